#!/usr/bin/env node
// Builds the extension's per-platform VSIX packages with @vscode/vsce:
//   node scripts/package.js                      gradient-lens-<version>-linux-x64.vsix
//   node scripts/package.js --target darwin-arm64 [--target …]
//   node scripts/package.js --all                every platform onnxruntime-node ships binaries for
//   node scripts/package.js --out DIR            where they go (default: the repository root)
//   node scripts/package.js --list [--target T]  print what the VSIX would carry, build nothing
// (`npm run package -- --target darwin-arm64`, `npm run package:all`.)
// vsce runs vscode:prepublish (the production bundle), then packs what .vscodeignore lets through;
// for each target this script hands vsce a copy of .vscodeignore whose line for onnxruntime's
// native binaries names that platform's folder only, and checks the finished VSIX's file list.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const REPO = path.resolve(__dirname, '..');
const ORT_BIN = 'node_modules/onnxruntime-node/bin';
/** The .vscodeignore line that lets every platform's binaries in; replaced per target. */
const ALL_BINARIES_LINE = `!${ORT_BIN}/**`;
/** VS Code's platform-arch targets whose names match Node's process.platform-process.arch. */
const VSCODE_TARGETS = ['win32-x64', 'win32-arm64', 'linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64'];
const DEFAULT_TARGET = 'linux-x64';

const manifest = () => JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));

/** The napi-vN/<platform>/<arch> folders of onnxruntime-node's binaries, relative to the repository. */
function binaryDirs() {
  const bin = path.join(REPO, ORT_BIN);
  if (!fs.existsSync(bin)) throw new Error(`${ORT_BIN} is missing; install the dependencies with: ONNXRUNTIME_NODE_INSTALL=skip npm ci`);
  const dirs = [];
  for (const napi of fs.readdirSync(bin).filter((d) => /^napi-v\d+$/.test(d))) {
    for (const platform of fs.readdirSync(path.join(bin, napi))) {
      for (const arch of fs.readdirSync(path.join(bin, napi, platform))) {
        dirs.push({ target: `${platform}-${arch}`, dir: `${ORT_BIN}/${napi}/${platform}/${arch}` });
      }
    }
  }
  return dirs;
}

/** The targets a VSIX can be built for: those onnxruntime-node ships binaries for, that VS Code knows. */
function targets() {
  return [...new Set(binaryDirs().map((d) => d.target))].filter((t) => VSCODE_TARGETS.includes(t)).sort();
}

/** The VS Code target of this machine (e.g. linux-x64), or undefined when no VSIX can be built for it. */
function hostTarget() {
  const t = `${process.platform}-${process.arch}`;
  return targets().includes(t) ? t : undefined;
}

function assertTarget(target) {
  const known = targets();
  if (!known.includes(target)) {
    throw new Error(`no VSIX for target '${target}': onnxruntime-node ${manifestOf('onnxruntime-node').version} ships binaries for ${known.join(', ')}`);
  }
}

const manifestOf = (dep) => JSON.parse(fs.readFileSync(path.join(REPO, 'node_modules', dep, 'package.json'), 'utf8'));

/** The text of .vscodeignore with onnxruntime's binaries narrowed to `target`'s folder(s). */
function ignoreFileText(target) {
  assertTarget(target);
  const text = fs.readFileSync(path.join(REPO, '.vscodeignore'), 'utf8');
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === ALL_BINARIES_LINE);
  if (at < 0) throw new Error(`.vscodeignore has no line '${ALL_BINARIES_LINE}' to narrow to one platform`);
  lines.splice(at, 1, ...binaryDirs().filter((d) => d.target === target).map((d) => `!${d.dir}/**`));
  return lines.join('\n');
}

/** Writes ignoreFileText(target) to a temporary file; returns its path and a clean-up function. */
function writeIgnoreFile(target) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradient-lens-vscodeignore-'));
  const file = path.join(dir, `vscodeignore-${target}`);
  fs.writeFileSync(file, ignoreFileText(target));
  return { file, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

const vsixName = (target) => {
  const m = manifest();
  return `${m.name}-${m.version}-${target}.vsix`;
};

/**
 * What must and must not be in a VSIX for `target`, given its paths relative to the extension's
 * root (a VSIX's `extension/` folder, or vsce's file list). Returns the problems found (empty: fine).
 */
function checkFiles(target, files) {
  const problems = [];
  // vsce stores README.md and CHANGELOG.md as readme.md and changelog.md.
  const set = new Set(files.map((f) => (/^(readme|changelog)\.md$/i.test(f) ? f.toLowerCase() : f)));
  const own = binaryDirs().filter((d) => d.target === target).map((d) => d.dir);
  const required = ['package.json', 'readme.md', 'changelog.md', 'media/gradient-lens.svg',
    'dist/extension.js', 'dist/cli.js', 'dist/worker.js', 'dist/spectrumThread.js', 'dist/formatThread.js',
    'dist/webview/panel.js', 'dist/webview/panel.css',
    'node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist/index.js',
    'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs/index.js',
    ...own.map((d) => `${d}/onnxruntime_binding.node`)];
  for (const f of required) if (!set.has(f)) problems.push(`missing ${f}`);
  for (const f of files) {
    if (f.startsWith(`${ORT_BIN}/`) && !own.some((d) => f.startsWith(`${d}/`))) problems.push(`another platform's binary: ${f}`);
    else if (/^(src|test|out|scripts|bench|examples|webview|shared|\.ci|\.vscode|\.harness|\.gl|\.whl|test-artifacts)\//.test(f)) problems.push(`not for users: ${f}`);
    else if (/\.(map|ts|tsx|py|vsix|onnx|npy)$/.test(f) && !f.endsWith('.d.ts')) problems.push(`not for users: ${f}`);
    else if (f.endsWith('.d.ts')) problems.push(`type declarations: ${f}`);
    else if (f.startsWith('node_modules/') && !/^node_modules\/onnxruntime-(node|common)\//.test(f)) problems.push(`a dependency the bundle does not need at run time: ${f}`);
  }
  return problems;
}

/** The files vsce would pack for `target` (through its listFiles API: no build, no zip). */
async function listFiles(target) {
  const { listFiles: vsceListFiles, PackageManager } = require('@vscode/vsce');
  const ignore = writeIgnoreFile(target);
  try {
    const files = await vsceListFiles({ cwd: REPO, packageManager: PackageManager.Npm, ignoreFile: ignore.file });
    return files.map((f) => f.replace(/\\/g, '/')).sort();
  } finally {
    ignore.dispose();
  }
}

/** Entries of a zip file (a VSIX): name, sizes, and a read() that inflates its data. */
function zipEntries(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLength = buf.readUInt16LE(p + 28);
    const extraLength = buf.readUInt16LE(p + 30);
    const commentLength = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLength);
    const read = () => {
      const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
      const data = buf.subarray(start, start + compressedSize);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return zlib.inflateRawSync(data);
      throw new Error(`${file}: ${name} uses compression method ${method}`);
    };
    entries.push({ name, size, compressedSize, read });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The paths of a VSIX's extension files, relative to the installed extension's folder. */
const vsixExtensionFiles = (vsix) => zipEntries(vsix).map((e) => e.name).filter((n) => n.startsWith('extension/'))
  .map((n) => n.slice('extension/'.length)).sort();

/** Extracts a VSIX's `extension/` folder into `dir` (what VS Code installs), keeping file modes simple. */
function extractVsix(vsix, dir) {
  for (const e of zipEntries(vsix)) {
    if (!e.name.startsWith('extension/') || e.name.endsWith('/')) continue;
    const out = path.join(dir, e.name.slice('extension/'.length));
    if (!path.resolve(out).startsWith(path.resolve(dir) + path.sep)) throw new Error(`${vsix}: entry outside the folder: ${e.name}`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, e.read());
  }
  return dir;
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Builds the VSIX for `target` into `outDir` with vsce and checks its file list; returns its path.
 * `quiet`: vsce's output is shown only when it fails.
 */
function packageTarget(target, outDir = REPO, { quiet = false } = {}) {
  assertTarget(target);
  const vsce = path.join(path.dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  const out = path.resolve(outDir, vsixName(target));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const ignore = writeIgnoreFile(target);
  try {
    const args = [vsce, 'package', '--target', target, '--ignoreFile', ignore.file, '--out', out, '--dependencies', '--no-yarn',
      // No LICENSE file or repository URL in this repository yet; the README's relative links stay
      // relative (the installed extension's README resolves them against its own folder).
      '--skip-license', '--allow-missing-repository', '--no-rewrite-relative-links'];
    const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
    if (r.status !== 0) {
      if (quiet) process.stderr.write(`${r.stdout}${r.stderr}`);
      throw new Error(`vsce package --target ${target} failed (exit ${r.status ?? r.signal})`);
    }
  } finally {
    ignore.dispose();
  }
  const files = vsixExtensionFiles(out);
  const problems = checkFiles(target, files);
  if (problems.length) throw new Error(`${path.basename(out)}:\n  ${problems.join('\n  ')}`);
  console.log(`${out}: ${mb(fs.statSync(out).size)}, ${files.length} files, onnxruntime binaries for ${target} only`);
  return out;
}

async function main(argv) {
  const opt = { targets: [], out: REPO, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--all') opt.targets.push(...targets());
    else if (a === '--target' || a.startsWith('--target=') || a === '-t') opt.targets.push(...value().split(','));
    else if (a === '--out' || a.startsWith('--out=')) opt.out = path.resolve(value());
    else if (a === '--list') opt.list = true;
    else if (a === '--help' || a === '-h') {
      console.log(`usage: node scripts/package.js [--target T]... [--all] [--out DIR] [--list]\ntargets: ${targets().join(', ')} (default ${DEFAULT_TARGET})`);
      return;
    } else throw new Error(`unknown argument ${a}`);
  }
  const wanted = [...new Set(opt.targets.length ? opt.targets : [DEFAULT_TARGET])];
  wanted.forEach(assertTarget);
  if (opt.list) {
    for (const t of wanted) {
      const files = await listFiles(t);
      console.log(`${vsixName(t)} would carry ${files.length} files:\n  ${files.join('\n  ')}`);
    }
    return;
  }
  for (const t of wanted) packageTarget(t, opt.out);
}

module.exports = { REPO, DEFAULT_TARGET, targets, hostTarget, binaryDirs, ignoreFileText, vsixName, checkFiles, listFiles,
  zipEntries, vsixExtensionFiles, extractVsix, packageTarget };

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`package: ${e.message}`);
    process.exit(1);
  });
}
