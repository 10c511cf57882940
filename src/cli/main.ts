/**
 * `gradient-lens analyze`: the headless front end. Prints a summary, or writes the JSON report
 * (streamed, and only renamed into place once complete, so a failed or cancelled run leaves no
 * half-written file). Exit codes: 0 success, 1 analysis error, 2 usage error.
 */
import { analyzeModel } from '../analysis/analyze';
import { warmOnnxruntime } from '../runtime/ortModule';
import { AnalysisError, CancelledError, UsageError } from '../onnx/errors';
import * as path from 'path';
import { writeReportJson } from '../report/jsonWriter';
import { metricsOnly, standaloneHtml, writeFileAtomically } from '../report/htmlReport';
import { parseAnalyzeArgs, USAGE } from './args';
import { formatSummary } from './summary';
import { version } from '../../package.json';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }, signal?: AbortSignal): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') { io.stdout.write(`${USAGE}\n`); return 0; }
  if (command === '--version') { io.stdout.write(`${version}\n`); return 0; }
  if (command !== 'analyze') {
    io.stderr.write(`error: ${command ? `unknown command '${command}'` : 'no command given'}; the command is 'analyze'.\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) { io.stdout.write(`${USAGE}\n`); return 0; }
  try {
    const args = parseAnalyzeArgs(rest);
    const analysis = analyzeModel({
      modelPath: args.model, files: args.inputs, seqLen: args.seqLen, batch: args.batch, seed: args.seed, dims: args.dims,
      ep: args.ep, saturation: args.saturation, signal, jacobian: args.jacobian,
      objective: { kind: args.objective, output: args.output, timeAxis: args.timeAxis, targetFile: args.target },
    });
    // While the worker starts and reads the model, this thread (idle otherwise) sets up onnxruntime's environment for it.
    const warm = warmOnnxruntime();
    const report = await analysis.finally(() => warm);
    if (args.json) await writeReportJson(report, args.json === '-' ? io.stdout : args.json, { detail: args.detail, signal });
    if (args.html) {
      const label = path.basename(report.model.path);
      const shown = args.detail === 'metrics' ? metricsOnly(report) : report;
      await writeFileAtomically(args.html, standaloneHtml([{ label, path: report.model.path, report: shown }], label));
    }
    if (!args.quiet && args.json !== '-') {
      io.stdout.write(`${formatSummary(report)}\n`);
      if (args.json) io.stdout.write(`report written to ${args.json}\n`);
      if (args.html) io.stdout.write(`HTML report written to ${args.html}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UsageError) { io.stderr.write(`error: ${e.message}\n`); return 2; }
    if (e instanceof CancelledError || (e as Error).name === 'CancelledError') { io.stderr.write('error: the analysis was cancelled.\n'); return 1; }
    if (e instanceof AnalysisError) { io.stderr.write(`error: ${e.message}\n`); return 1; }
    io.stderr.write(`error: ${(e as Error).message ?? String(e)} (this looks like a Gradient Lens bug; please report it with the model's op list)\n`);
    if (process.env.GRADIENT_LENS_DEBUG) io.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

/** Entry point of the bundled CLI. */
export function cliMain(): void {
  const controller = new AbortController();
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    controller.abort();
  });
  runCli(process.argv.slice(2), undefined, controller.signal).then((code) => {
    process.exitCode = interrupted ? 130 : code;
  });
}
