/**
 * `gradient-lens analyze`: the headless front end. Prints a summary, or writes the JSON report
 * (streamed, and only renamed into place once complete, so a failed or cancelled run leaves no
 * half-written file). Exit codes: 0 success, 1 analysis error, 2 usage error; 130 / 143 / 129
 * after SIGINT / SIGTERM / SIGHUP.
 */
import { analyzeModel, workersInNative } from '../analysis/analyze';
import { warmOnnxruntime } from '../runtime/ortModule';
import { AnalysisError, CancelledError, UsageError } from '../onnx/errors';
import { printable } from '../onnx/files';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fsAdvice, RenameError, renameTogether, writeReportJson } from '../report/jsonWriter';
import type { Report } from '../report/types';
import { embeddedBytes, fitsInPage, metricsOnly, standaloneHtml, writeFileAtomically } from '../report/htmlReport';
import { OMITTED_TOO_BIG_HOW } from '../report/detail';
import { checkOutputPaths, OutputRequest, ProtectedFile } from '../report/outputPaths';
import { AnalyzeArgs, parseAnalyzeArgs, USAGE } from './args';
import { formatSummary } from './summary';
import { COMPARE_USAGE, runCompare } from './compare';
import { version } from '../../package.json';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Text derived from the model or the user's arguments, made safe for a terminal line by line. */
function terminalText(text: string): string {
  return text.split('\n').map(printable).join('\n');
}

/** The outputs the arguments ask for, and the files they must never replace. */
function outputPlan(args: AnalyzeArgs): { outputs: OutputRequest[]; protectedFiles: ProtectedFile[] } {
  const outputs: OutputRequest[] = [];
  if (args.json !== undefined) outputs.push({ flag: '--json', path: args.json });
  if (args.html !== undefined) outputs.push({ flag: '--html', path: args.html });
  if (args.tensors !== undefined) outputs.push({ flag: '--tensors', path: args.tensors });
  const protectedFiles: ProtectedFile[] = [{ role: 'the model being analysed', path: args.model }];
  for (const [name, file] of Object.entries(args.inputs)) protectedFiles.push({ role: `the file given for input '${name}'`, path: file });
  if (args.target) protectedFiles.push({ role: 'the --target file', path: args.target });
  return { outputs, protectedFiles };
}

export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }, signal?: AbortSignal): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') { io.stdout.write(`${USAGE}\n`); return 0; }
  if (command === '--version') { io.stdout.write(`${version}\n`); return 0; }
  if (command === 'compare') {
    if (rest.includes('--help') || rest.includes('-h')) { io.stdout.write(`${COMPARE_USAGE}\n`); return 0; }
    try {
      runCompare(rest, (text) => io.stdout.write(text));
      return 0;
    } catch (e) {
      io.stderr.write(`error: ${printable((e as Error).message)}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  }
  if (command !== 'analyze') {
    io.stderr.write(`error: ${command ? `unknown command '${printable(command)}'` : 'no command given'}; the commands are 'analyze' and 'compare'.\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) { io.stdout.write(`${USAGE}\n`); return 0; }
  let verbose = rest.includes('--verbose');
  try {
    const args = parseAnalyzeArgs(rest);
    verbose = args.verbose;
    // Where the report goes is decided before any work: a bad path costs nothing and destroys nothing.
    const plan = outputPlan(args);
    checkOutputPaths(plan.outputs, plan.protectedFiles);
    const analysis = analyzeModel({
      modelPath: args.model, files: args.inputs, seqLen: args.seqLen, batch: args.batch, seed: args.seed, dims: args.dims,
      calls: args.calls, state: args.state,
      ep: args.ep, saturation: args.saturation, signal, jacobian: args.jacobian, maxMemoryBytes: args.maxMemory,
      outputPaths: plan.outputs.filter((o) => o.path !== '-').map((o) => o.path),
      objective: { kind: args.objective, output: args.output, timeAxis: args.timeAxis, targetFile: args.target },
    });
    // While the worker starts and reads the model, this thread (idle otherwise) sets up onnxruntime's environment for it.
    const warm = warmOnnxruntime();
    const report = await analysis.finally(() => warm);
    const tJson = performance.now();
    // Both reports to files: the JSON waits under a temporary name until the page is written too,
    // so an interrupted or failed run leaves neither (nor replaces an earlier one).
    // (A short name in the same folder: the JSON writer adds its own temporary suffix to it.)
    const pendingOf = (file: string) => path.join(path.dirname(file), `.gl-${process.pid}-${randomBytes(4).toString('hex')}.pending`);
    const pendingJson = args.json && args.json !== '-' && args.html && args.html !== '-' ? pendingOf(args.json) : undefined;
    // The tensor file waits with the JSON; the JSON names it as the user did, relative to its own folder.
    const pendingTensors = pendingJson && args.tensors ? pendingOf(args.tensors) : undefined;
    const tensorFile = args.tensors && args.json ? { path: pendingTensors ?? args.tensors, reference: tensorReference(args.json, args.tensors), shownAs: args.tensors } : undefined;
    if (args.json) await writeReportJson(report, args.json === '-' ? io.stdout : pendingJson ?? args.json, { detail: args.detail, signal, shownAs: args.json, tensorFile });
    if (process.env.GL_PROFILE && args.json) console.error(`JSON written in ${(performance.now() - tJson).toFixed(0)} ms`);
    const tHtml = performance.now();
    if (args.html) {
      try {
        await writeHtmlReport(report, args.html, args.detail, io, signal);
        if (process.env.GL_PROFILE) console.error(`HTML written in ${(performance.now() - tHtml).toFixed(0)} ms`);
        if (pendingJson) {
          await renameTogether([...(pendingTensors ? [[pendingTensors, args.tensors!] as [string, string]] : []), [pendingJson, args.json!]]).catch((e: NodeJS.ErrnoException) => {
            throw new AnalysisError(`the report could not be put in place at ${printable(e instanceof RenameError ? e.final : args.json!)} (${e.message}); ${fsAdvice(e.code ?? '')}`);
          });
        }
      } finally {
        for (const p of [pendingJson, pendingTensors]) if (p) await fs.promises.rm(p, { force: true });
      }
    }
    if (!args.quiet && args.json !== '-' && args.html !== '-') {
      io.stdout.write(`${terminalText(formatSummary(report))}\n`);
      if (args.json) io.stdout.write(`report written to ${printable(args.json)}${args.tensors ? `, its tensors to ${printable(args.tensors)}` : ''}\n`);
      if (args.html) io.stdout.write(`HTML report written to ${printable(args.html)}\n`);
    }
    return 0;
  } catch (e) {
    const err = e as Error & { detail?: string };
    // (Only what the one-line message left out: not the same text twice.)
    const detail = verbose && err.detail && !String(err.message).includes(err.detail.trim()) ? `${err.detail.trimEnd()}\n` : '';
    // A reader that closed the pipe (`--html - | head`) is no error to report.
    if ((err as NodeJS.ErrnoException).code === 'EPIPE' || signal?.reason === 'EPIPE') return 0;
    if (e instanceof UsageError) { io.stderr.write(`error: ${printable(e.message)}\n`); return 2; }
    if (e instanceof CancelledError || err.name === 'CancelledError') {
      io.stderr.write('error: the analysis was cancelled.\n');
      return 1;
    }
    if (e instanceof AnalysisError) { io.stderr.write(`error: ${printable(e.message)}\n${detail}`); return 1; }
    io.stderr.write(`error: ${printable(err.message ?? String(e))} (this looks like a Gradient Lens bug; please report it with the model's op list)\n${detail}`);
    if (process.env.GRADIENT_LENS_DEBUG) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/**
 * The tensor file as the JSON names it: relative to the JSON's folder, both folders' symbolic
 * links resolved (the kernel resolves `link/..` to the link target's parent, not lexically).
 * Both folders exist (checked before the analysis).
 */
function tensorReference(json: string, tensors: string): string {
  const real = (p: string) => path.join(fs.realpathSync(path.dirname(path.resolve(p))), path.basename(p));
  return path.relative(path.dirname(real(json)), real(tensors)).split(path.sep).join('/');
}

/** The standalone page (without the per-step tensors when they are too much for one page, saying so). */
async function writeHtmlReport(report: Report, target: string, detail: AnalyzeArgs['detail'], io: CliIo, signal?: AbortSignal): Promise<void> {
  const label = path.basename(report.model.path);
  const tooBig = detail !== 'metrics' && !fitsInPage([report]);
  if (tooBig) io.stderr.write(`warning: the full report's per-step data (about ${(embeddedBytes([report]) / 1e6).toFixed(0)} MB) is more than one HTML page can hold; the page is written without the per-step tensors, as with --detail metrics (no heatmaps). The full data: --json.\n`);
  const shown = tooBig ? metricsOnly(report, OMITTED_TOO_BIG_HOW) : detail === 'metrics' ? metricsOnly(report) : report;
  const page = standaloneHtml([{ label, path: report.model.path, report: shown }], label);
  if (target === '-') await writeText(io.stdout, page);
  else await writeFileAtomically(target, page, signal);
}

function writeText(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (e) => (e ? reject(e) : resolve()));
  });
}

/** Exit codes after a signal (128 + its number). */
const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * Entry point of the bundled CLI. SIGINT, SIGTERM and SIGHUP cancel the analysis (or the report
 * being written, whose temporary file is removed) and end the process as soon as no analysis
 * thread is inside onnxruntime: ending a thread there aborts the process (`terminate called …
 * Napi::Error`). A second Ctrl-C therefore does not exit on the spot; it says what it waits for.
 */
export function cliMain(): void {
  const controller = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  let told = false;
  const exitCode = () => (signalled ? SIGNAL_EXIT[signalled] ?? 1 : undefined);
  /** Exit once no thread is in native code (checked every 50 ms); the process may also end by itself first. */
  const exitWhenSafe = (code: number) => {
    const tick = () => {
      if (workersInNative() === 0) process.exit(code);
      else setTimeout(tick, 50);
    };
    setTimeout(tick, 50);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (!signalled) {
      signalled = sig;
      controller.abort();
      return;
    }
    if (!told && workersInNative() > 0) {
      told = true;
      process.stderr.write('stopping: waiting for the current onnxruntime call to return (ending it now would crash the process)…\n');
    }
    exitWhenSafe(exitCode()!);
  };
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) process.on(sig, onSignal);
  // A reader that stops early (`… --json - | head`): stop writing and end quietly, as pipelines expect.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    controller.abort('EPIPE');
    exitWhenSafe(0);
  });
  runCli(process.argv.slice(2), undefined, controller.signal).then((code) => {
    const signalCode = exitCode();
    process.exitCode = signalCode ?? code;
    // After a signal, do not wait for idle helper threads to wind down on their own.
    if (signalCode !== undefined) exitWhenSafe(signalCode);
  });
}
