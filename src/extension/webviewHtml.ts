/** The HTML shell of Gradient Lens webviews: a strict CSP with a nonce, assets from dist/webview only. */
import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { escapeHtml } from '../protocol/standalone';

export { escapeHtml };

export function webviewAssetsRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
}

export function nonce(): string {
  return crypto.randomBytes(18).toString('base64');
}

/** The analysis panel's page: panel.js renders everything from the messages it receives. */
export function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const root = webviewAssetsRoot(extensionUri);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, 'panel.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, 'panel.css'));
  const n = nonce();
  return `<!DOCTYPE html>
<html lang="${vscode.env.language}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} data:; style-src ${webview.cspSource} 'unsafe-inline'; font-src ${webview.cspSource}; script-src 'nonce-${n}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(title)}</title>
</head>
<body>
<div id="app" role="main" aria-busy="true"></div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
}
