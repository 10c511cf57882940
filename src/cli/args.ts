/** Parsing `gradient-lens analyze …` (SPEC §6). Bad usage throws UsageError (exit code 2). */
import { UsageError } from '../onnx/errors';
import { printable } from '../onnx/files';
import { parseSize } from '../analysis/memory';
import { ExecutionProviderChoice } from '../runtime/protocol';
import type { JacobianMode } from '../analysis/pipeline';
import { OBJECTIVE_KINDS, ObjectiveKind } from '../report/types';

export interface AnalyzeArgs {
  model: string;
  inputs: Record<string, string>;
  seqLen?: number;
  batch?: number;
  /** Streaming: calls to analyse, and state pairs given by hand. */
  calls?: number;
  state?: { input: string; output: string }[];
  seed: number;
  dims: Record<string, number>;
  ep: ExecutionProviderChoice;
  saturation: { low: number; high: number };
  detail: 'full' | 'metrics';
  objective: ObjectiveKind;
  output?: string;
  timeAxis?: number;
  target?: string;
  jacobian: JacobianMode;
  json?: string;
  html?: string;
  /** With --json FILE: the float32 tensors' values go to this binary file instead. */
  tensors?: string;
  quiet: boolean;
  /** Refuse analyses estimated to need more memory than this many bytes. */
  maxMemory?: number;
  /** Print onnxruntime's raw messages (C++ locations included) under an error. */
  verbose: boolean;
}

export const USAGE = `usage: gradient-lens analyze MODEL.onnx [options]
       gradient-lens compare REPORT.json REPORT.json …   (reports written by analyze --json, side by side)

Runs MODEL.onnx with instrumentation and backpropagation in onnxruntime and reports, for every
LSTM / GRU / RNN layer and direction, where its gradients vanish or explode and why: per-step
gradient norms, Jacobian norms and their decay, gate activations, forget-gate saturation,
retention, recurrent spectrum, weight gradients and the clipping what-if.

options:
  --input NAME=FILE.npy     feed graph input NAME from a NumPy file, or a scalar: NAME=16000 (repeatable)
  --calls N                 streaming models: analyse N consecutive calls, the state fed back [32 with state pairs]
  --state IN=OUT            the state pair input IN / output OUT, instead of the ones found by name (repeatable)
  --seq-len N               sequence length for symbolic sequence axes [model's static value, else 32]
  --batch B                 batch size for symbolic batch axes [1]
  --seed S                  seed for generated inputs and Jacobian probes [0]
  --dim NAME=VALUE          value of another symbolic dimension (repeatable)
  --objective KIND          sum | mean | l2 | last | target, of the chosen output [sum]
  --output NAME             the graph output the objective is taken on [the first]
  --time-axis K             the output's time axis for --objective last [traced through the graph]
  --target FILE.npy         target values for --objective target (mean squared error)
  --jacobian MODE           auto | exact | probes:K | off [auto: exact while B·H ≤ 64, else probes:8]
  --ep auto|cpu|cuda        execution provider [auto: CUDA if it loads, else CPU]
  --saturation LOW,HIGH     gate saturation thresholds [0.1,0.9]
  --detail full|metrics     leave per-step tensors out of the JSON / HTML with 'metrics' [full]
  --json FILE|-             write the report as JSON (- for stdout)
  --tensors FILE            with --json FILE: every float32 tensor (per-step tensors, weight gradients,
                            outputs, inputs) as raw float32 in FILE, referenced from the JSON
                            (big reports: written ~9× faster, ~2.7× smaller)
  --html FILE|-             write the report as one standalone HTML page (the panel, offline; - for stdout)
  --max-memory SIZE         refuse analyses estimated to need more memory (e.g. 8G) [half the available memory]
  --quiet                   print nothing but errors
  --verbose                 with an error, also print onnxruntime's own message
  -h, --help                show this help

exit codes: 0 success, 1 the model or an input could not be analysed, 2 bad usage;
            130 / 143 / 129 after SIGINT / SIGTERM / SIGHUP (no partial report is left)
gradient-lens --version prints the version; docs/cli.md documents every option.`;

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} expects a positive integer, got '${v}'.`);
  return n;
}

function keyValue(flag: string, v: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0 || i === v.length - 1) throw new UsageError(`${flag} expects NAME=VALUE, got '${v}'.`);
  return [v.slice(0, i), v.slice(i + 1)];
}

export function parseAnalyzeArgs(argv: string[]): AnalyzeArgs {
  const args: AnalyzeArgs = {
    // Maps without a prototype: an input or dim named __proto__ is a name like any other.
    model: '', inputs: Object.create(null) as Record<string, string>, seed: 0, dims: Object.create(null) as Record<string, number>, ep: 'auto', saturation: { low: 0.1, high: 0.9 }, detail: 'full', quiet: false, verbose: false,
    objective: 'sum', jacobian: 'auto',
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    if (!raw.startsWith('--') || raw === '--') { positional.push(raw); continue; }
    const eq = raw.indexOf('=');
    // Accept both `--flag value` and `--flag=value`.
    // --input=x=a.npy, --dim=T=5, --state=h=hn: the first '=' ends the flag, the value keeps its own.
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inlineValue = flag !== raw ? raw.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inlineValue !== undefined) return inlineValue;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value.`);
      return v;
    };
    switch (flag) {
      case '--input': { const [k, v] = keyValue(flag, value()); args.inputs[k] = v; break; }
      case '--dim': { const [k, v] = keyValue(flag, value()); args.dims[k] = positiveInt(`--dim ${k}`, v); break; }
      case '--calls': args.calls = positiveInt(flag, value()); break;
      case '--state': {
        const [k, v] = keyValue(flag, value());
        args.state = [...(args.state ?? []), { input: k, output: v }];
        break;
      }
      case '--seq-len': args.seqLen = positiveInt(flag, value()); break;
      case '--batch': args.batch = positiveInt(flag, value()); break;
      case '--seed': {
        const v = value();
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--seed expects a non-negative integer, got '${v}'.`);
        args.seed = Number(v);
        break;
      }
      case '--ep': {
        const v = value();
        if (v !== 'auto' && v !== 'cpu' && v !== 'cuda') throw new UsageError(`--ep expects auto, cpu or cuda, got '${v}'.`);
        args.ep = v;
        break;
      }
      case '--saturation': {
        const v = value();
        const parts = v.split(',').map(Number);
        if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x)) || !(parts[0] >= 0 && parts[0] < parts[1] && parts[1] <= 1)) {
          throw new UsageError(`--saturation expects LOW,HIGH with 0 ≤ LOW < HIGH ≤ 1, got '${v}'.`);
        }
        args.saturation = { low: parts[0], high: parts[1] };
        break;
      }
      case '--detail': {
        const v = value();
        if (v !== 'full' && v !== 'metrics') throw new UsageError(`--detail expects full or metrics, got '${v}'.`);
        args.detail = v;
        break;
      }
      case '--objective': {
        const v = value();
        if (!(OBJECTIVE_KINDS as readonly string[]).includes(v)) throw new UsageError(`--objective expects one of ${OBJECTIVE_KINDS.join(', ')}, got '${v}'.`);
        args.objective = v as ObjectiveKind;
        break;
      }
      case '--output': args.output = value(); break;
      case '--time-axis': {
        const v = value();
        if (!/^-?\d+$/.test(v)) throw new UsageError(`--time-axis expects an integer axis, got '${v}'.`);
        args.timeAxis = Number(v);
        break;
      }
      case '--target': args.target = value(); break;
      case '--jacobian': {
        const v = value();
        const probes = /^probes:(\d+)$/.exec(v);
        if (v === 'exact' || v === 'off' || v === 'auto') args.jacobian = v;
        else if (probes && Number(probes[1]) > 0) args.jacobian = { probes: Number(probes[1]) };
        else throw new UsageError(`--jacobian expects auto, exact, probes:K (K ≥ 1) or off, got '${v}'.`);
        break;
      }
      case '--json': args.json = value(); break;
      case '--html': args.html = value(); break;
      case '--tensors': args.tensors = value(); break;
      case '--quiet': args.quiet = true; break;
      case '--verbose': args.verbose = true; break;
      case '--max-memory': args.maxMemory = parseSize(value()); break;
      case '--help': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown option '${printable(flag)}'; see 'gradient-lens analyze --help'.`);
    }
  }
  if (positional.length === 0) throw new UsageError('analyze needs a model: gradient-lens analyze MODEL.onnx [options]');
  if (positional.length > 1) throw new UsageError(`analyze takes one model, got ${positional.length}: ${printable(positional.join(' '))}`);
  args.model = positional[0];
  if (args.objective === 'target' && !args.target) throw new UsageError('--objective target needs --target FILE.npy.');
  if (args.target && args.objective !== 'target') throw new UsageError(`--target is only used with --objective target (the objective is ${args.objective}).`);
  if (args.tensors !== undefined) {
    if (args.tensors === '' || args.tensors === '-') throw new UsageError(`--tensors needs a file name (the tensors are binary: not for standard output).`);
    if (args.json === undefined || args.json === '-') throw new UsageError(`--tensors ${printable(args.tensors)} goes with --json FILE (the JSON report names it and says where each tensor is in it).`);
    if (args.detail === 'metrics') throw new UsageError('--tensors holds the per-step tensors, which --detail metrics leaves out; use one or the other.');
  }
  if (args.timeAxis !== undefined && args.objective !== 'last') throw new UsageError(`--time-axis is only used with --objective last (the objective is ${args.objective}).`);
  return args;
}
