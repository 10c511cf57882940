#!/usr/bin/env node
'use strict';
// The CLI bundle is built by `npm ci` / `npm run build` (esbuild.js).
require('../dist/cli.js');
