/** Parsing `gradient-lens analyze …` (SPEC §6). Bad usage throws UsageError (exit code 2). */
import { UsageError } from '../onnx/errors';
import { ExecutionProviderChoice } from '../runtime/protocol';

export interface AnalyzeArgs {
  model: string;
  inputs: Record<string, string>;
  seqLen?: number;
  batch?: number;
  seed: number;
  dims: Record<string, number>;
  ep: ExecutionProviderChoice;
  saturation: { low: number; high: number };
  detail: 'full' | 'metrics';
  json?: string;
  quiet: boolean;
}

export const USAGE = `usage: gradient-lens analyze MODEL.onnx [options]

Runs MODEL.onnx with instrumentation in onnxruntime and reports, for every LSTM / GRU / RNN
layer and direction, its gate activations, forget-gate saturation, retention and recurrent spectrum.

options:
  --input NAME=FILE.npy     feed graph input NAME from a NumPy file (repeatable)
  --seq-len N               sequence length for symbolic sequence axes [model's static value, else 32]
  --batch B                 batch size for symbolic batch axes [1]
  --seed S                  seed for generated inputs [0]
  --dim NAME=VALUE          value of another symbolic dimension (repeatable)
  --ep auto|cpu|cuda        execution provider [auto: CUDA if it loads, else CPU]
  --saturation LOW,HIGH     gate saturation thresholds [0.1,0.9]
  --detail full|metrics     leave per-step tensors out of the JSON with 'metrics' [full]
  --json FILE|-             write the report as JSON (- for stdout)
  --quiet                   print nothing but errors
  -h, --help                show this help

exit codes: 0 success, 1 the model or an input could not be analysed, 2 bad usage`;

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
    model: '', inputs: {}, seed: 0, dims: {}, ep: 'auto', saturation: { low: 0.1, high: 0.9 }, detail: 'full', quiet: false,
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    if (!raw.startsWith('--') || raw === '--') { positional.push(raw); continue; }
    const eq = raw.indexOf('=');
    // Accept both `--flag value` and `--flag=value`.
    const flag = eq > 0 && !['--input', '--dim'].includes(raw.slice(0, eq)) ? raw.slice(0, eq) : raw;
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
      case '--json': args.json = value(); break;
      case '--quiet': args.quiet = true; break;
      case '--help': throw new UsageError(USAGE);
      default: throw new UsageError(`unknown option '${flag}'; see 'gradient-lens analyze --help'.`);
    }
  }
  if (positional.length === 0) throw new UsageError('analyze needs a model: gradient-lens analyze MODEL.onnx [options]');
  if (positional.length > 1) throw new UsageError(`analyze takes one model, got ${positional.length}: ${positional.join(' ')}`);
  args.model = positional[0];
  return args;
}
