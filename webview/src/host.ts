/**
 * The panel's two homes: a VS Code webview (acquireVsCodeApi: messages, persisted state) or the
 * standalone HTML report (data embedded in the page, no host to talk to).
 */
import type { PanelModel, PanelState, PanelToHost } from '../../src/protocol/panel';
import { decodeStandaloneData } from '../../src/protocol/standalone';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

export interface Host {
  /** false in the standalone report: controls that need the host are hidden. */
  readonly connected: boolean;
  post(message: PanelToHost): void;
  getState(): PanelState | undefined;
  setState(state: PanelState): void;
  saveImage(name: string, dataUrl: string): void;
}

export function connectHost(): Host {
  const acquire = (globalThis as { acquireVsCodeApi?: () => VsCodeApi }).acquireVsCodeApi;
  if (typeof acquire === 'function') {
    const api = acquire();
    return {
      connected: true,
      post: (m) => api.postMessage(m),
      getState: () => {
        const s = api.getState() as Partial<PanelState> | undefined;
        return s && Array.isArray(s.modelPaths) && s.settings ? (s as PanelState) : undefined;
      },
      setState: (s) => api.setState(s),
      saveImage: (name, dataUrl) => api.postMessage({ kind: 'saveImage', name, dataUrl } satisfies PanelToHost),
    };
  }
  return {
    connected: false,
    post: () => undefined,
    getState: () => undefined,
    setState: () => undefined,
    saveImage: (name, dataUrl) => {
      const a = document.createElement('a');
      a.href = dataUrl;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
    },
  };
}

/** The models embedded in the standalone report, or undefined when the page has none. */
export function embeddedModels(): PanelModel[] | undefined {
  const el = document.getElementById('gradient-lens-data');
  const text = el?.textContent?.trim();
  if (!text) return undefined;
  return decodeStandaloneData(text);
}
