/**
 * The standalone HTML report: one file that renders the analysis panel offline from embedded
 * data (the panel's bundle and stylesheet inlined). Used by `--html` and "Export Report…".
 */
import * as fs from 'fs';
import * as path from 'path';
import type { PanelModel } from '../protocol/panel';
import { renderStandaloneHtml } from '../protocol/standalone';
import { AnalysisError, CancelledError } from '../onnx/errors';
import { printable } from '../onnx/files';
import type { Report } from './types';
import { temporaryName } from './outputPaths';
export { metricsOnly } from './detail';

/** Bytes the embedded data of these reports will take (base64 of their typed arrays, roughly). */
export function embeddedBytes(reports: Report[]): number {
  let n = 0;
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    if (ArrayBuffer.isView(v)) { n += v.byteLength; return; }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  reports.forEach(walk);
  return Math.ceil(n * 4 / 3);
}

/** dist/webview beside the bundle (dist/cli.js, dist/extension.js) or, from compiled tests, the repo's. */
export function webviewAssetsDir(): string {
  const candidates = [path.join(__dirname, 'webview'), path.resolve(__dirname, '..', '..', '..', 'dist', 'webview')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'panel.js')));
  if (!found) throw new AnalysisError(`the panel's bundle (dist/webview/panel.js) is missing; build it with 'npm run build'.`);
  return found;
}

/**
 * The most per-step data (base64 characters) one page embeds: the data sits in one script element
 * whose text the page reads as one string, and a JavaScript string holds at most 2²⁹ − 24
 * characters (≈ 537 M) — with room left for the page's own code.
 */
export const HTML_MAX_EMBEDDED_BYTES = 400e6;

/** Whether these reports' data fits one standalone page (see HTML_MAX_EMBEDDED_BYTES). */
export function fitsInPage(reports: Report[], maxBytes = HTML_MAX_EMBEDDED_BYTES): boolean {
  return embeddedBytes(reports) <= maxBytes;
}

export function standaloneHtml(models: PanelModel[], title: string, maxBytes = HTML_MAX_EMBEDDED_BYTES): string {
  const bytes = embeddedBytes(models.map((m) => m.report));
  if (bytes > maxBytes) {
    const lean = models.every((m) => m.report.omitted);
    throw new AnalysisError(`the page would embed ${(bytes / 1e6).toFixed(0)} MB of data, more than one HTML page can hold (${(maxBytes / 1e6).toFixed(0)} MB); ${lean
      ? 'even without the per-step tensors — write the report as JSON (--json) instead'
      : 'leave the per-step tensors out (--detail metrics) or write the full data as JSON (--json)'}.`);
  }
  const dir = webviewAssetsDir();
  const assets = { js: fs.readFileSync(path.join(dir, 'panel.js'), 'utf8'), css: fs.readFileSync(path.join(dir, 'panel.css'), 'utf8') };
  return renderStandaloneHtml(models, assets, title);
}

/** Write to a temporary name and rename, so a failed or cancelled run leaves no partial file. */
export async function writeFileAtomically(file: string, text: string, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new CancelledError();
  // A fresh name, created exclusively: never follows a link or reuses a file someone else placed there.
  const tmp = temporaryName(file);
  let created = false;
  try {
    const handle = await fs.promises.open(tmp, 'wx');
    created = true;
    try { await handle.writeFile(text, { signal }); } finally { await handle.close(); }
    if (signal?.aborted) throw new CancelledError();
    await fs.promises.rename(tmp, file);
  } catch (e) {
    if (created) await fs.promises.rm(tmp, { force: true });
    if (signal?.aborted) throw new CancelledError();
    throw new AnalysisError(`could not write ${printable(file)}: ${(e as Error).message}`);
  }
}
