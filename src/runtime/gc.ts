/**
 * A full garbage collection on demand, where V8 allows it. A long analysis drops hundreds of
 * megabytes of typed arrays between native calls (chunk outputs, values no later stage reads);
 * V8 frees their memory only when it next collects, which a small JS heap rarely prompts, so the
 * process's peak would hold the dead arrays next to the live ones.
 */
import * as v8 from 'v8';
import * as vm from 'vm';

let gc: (() => void) | undefined | null = null;

export function collectGarbage(): void {
  if (gc === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = undefined;
    }
  }
  gc?.();
}
