/**
 * The preparation of an exported model, in order (see pass.ts): what a real export needs before
 * its recurrent layers can be found and run with taps. A new export quirk is a new pass here.
 *
 * 1. resolveIf: If nodes become the branch they take for the given inputs (nested too).
 * 2. loopAccumulators: Loop values grown by Concat every iteration become scan outputs.
 * 3. hoistInvariants: nodes of Loop/Scan bodies computed from constants alone move out of the body.
 * 4. foldConstants: weights computed from constants (Slice/Concat of Constants…) become constants.
 */
import type { LoadedModel } from '../../onnx/model';
import { foldConstants } from './foldConstants';
import { hoistInvariants } from './hoistInvariants';
import { loopAccumulators } from './loopAccumulators';
import type { Pass, PassContext } from './pass';
import { resolveIf } from './resolveIf';

export const PASSES: readonly { name: string; run: Pass }[] = [
  { name: 'take the If branches the inputs select', run: resolveIf },
  { name: 'Loop values grown by concatenation become scan outputs', run: loopAccumulators },
  { name: 'move loop-invariant nodes out of Loop/Scan bodies', run: hoistInvariants },
  { name: 'fold weights computed from constants', run: foldConstants },
];

/** Runs every pass on `model` (its proto is rewritten in place) and returns their notes. */
export async function prepareModel(model: LoadedModel, ctx: PassContext): Promise<string[]> {
  const notes: string[] = [];
  for (const pass of PASSES) notes.push(...(await pass.run(model, ctx)).notes);
  return notes;
}

export type { PassContext } from './pass';
