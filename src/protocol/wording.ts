/**
 * Messages in the panel name its controls, not the CLI's flags. The engine's messages are
 * written for both (they say `--seq-len`, `--input x=FILE.npy`); the panel shows them through
 * panelWording, which replaces each flag with the control that does the same. Pure: shared by
 * the extension host and the webview.
 */

const RULES: [RegExp, string][] = [
  [/ \(or its value, e\.g\. --input [^)]*\)/g, ''],
  [/pass it with --input ([^\s=]+)=FILE\.npy/g, "choose a .npy for input '$1' (Settings → Inputs)"],
  [/pass --input ([^\s=]+)=FILE\.npy/g, "choose a .npy for input '$1' (Settings → Inputs)"],
  [/--input ([^\s=]+)=FILE\.npy/g, "a .npy for input '$1' (Settings → Inputs)"],
  [/with --input\b/g, 'under Settings → Inputs'],
  [/--input\b/g, 'Settings → Inputs'],
  [/pass --dim ([^\s=]+)=VALUE/g, "give a .npy for the input that has dimension '$1' (Settings → Inputs)"],
  [/--dim\b/g, 'a .npy input (Settings → Inputs)'],
  [/--seq-len( \d+)?/g, 'the Sequence length setting'],
  [/--batch( \d+)?/g, 'the Batch setting'],
  [/--calls( N| \d+)?/g, 'the Calls setting'],
  [/--state IN=OUT/g, 'the gradientLens state pairs (the CLI\'s --state)'],
  [/--time-axis( K| -?\d+)?/g, 'the Time axis setting'],
  [/\(--output\)/g, '(the Output setting)'],
  [/with --output/g, 'with the Output setting'],
  [/--output( [^\s:]+)?/g, 'the Output setting'],
  [/--objective last/g, "the 'last step' objective"],
  [/--objective( [a-z]+)?/g, 'the Objective setting'],
  [/--target FILE\.npy/g, 'a target .npy (Settings → Inputs)'],
  [/--target\b/g, 'the target .npy'],
  [/pass --ep cpu to skip the attempt/g, 'choose Execution provider: CPU to skip the attempt'],
  [/--ep cpu/g, 'Execution provider: CPU'],
  [/--ep cuda/g, 'Execution provider: CUDA'],
  [/--ep\b/g, 'the Execution provider setting'],
  [/pass --jacobian exact for the exact value/g, 'choose Jacobian: exact for the exact value'],
  [/--jacobian exact/g, 'Jacobian: exact'],
  [/--jacobian off/g, 'Jacobian: off'],
  [/--jacobian probes:K/g, 'Jacobian: random probes'],
  [/--jacobian probes:(\d+)/g, 'Jacobian: random probes, K = $1'],
  [/--jacobian\b/g, 'the Jacobian setting'],
  [/--max-memory SIZE/g, 'the gradientLens.maxMemory setting'],
  [/--max-memory\b/g, 'the gradientLens.maxMemory setting'],
  [/--saturation( LOW,HIGH)?/g, 'the saturation thresholds'],
  [/--seed\b/g, 'the Seed setting'],
];

export function panelWording(message: string): string {
  let out = message;
  for (const [re, to] of RULES) out = out.replace(re, to);
  return out;
}
