/** What the extension tests share: the extension's API, the workspace and polling. */
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { GradientLensApi } from '../../../src/extension/api';

export const EXTENSION_ID = 'gradient-lens.gradient-lens';

export function extension(): vscode.Extension<GradientLensApi> {
  const ext = vscode.extensions.getExtension<GradientLensApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded in this VS Code`);
  return ext;
}

/** Activates the extension and returns what activate() returned. */
export async function api(): Promise<GradientLensApi> {
  const exports = await extension().activate();
  assert.ok(exports && typeof exports.analyze === 'function', 'activate() did not return the GradientLensApi');
  return exports;
}

/** The folder runTest.js prepared: the example models and train_adding.py. */
export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.env.GRADIENT_LENS_TEST_WORKSPACE;
  assert.ok(folder, 'no workspace folder is open');
  return folder;
}

export const workspaceFile = (name: string): string => path.join(workspaceDir(), name);

/** Polls `probe` until it returns a truthy value or `ms` pass; returns the last value. */
export async function waitFor<T>(probe: () => T | Promise<T>, ms = 30_000, every = 200): Promise<T> {
  const end = Date.now() + ms;
  let value = await probe();
  while (!value && Date.now() < end) {
    await new Promise((r) => setTimeout(r, every));
    value = await probe();
  }
  return value;
}

export const allTabs = (): vscode.Tab[] => vscode.window.tabGroups.all.flatMap((g) => g.tabs);

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Rejects with "`what` within N s" when `promise` has not settled within `ms`. */
export function within<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms); });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

/** api.analyze() with a bound, so that a hang fails with a message rather than mocha's timeout. */
export const ANALYZE_MS = 90_000;
