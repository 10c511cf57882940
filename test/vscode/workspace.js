// The workspace folder the VS Code tests open: a fresh temporary copy of the example models, the
// sample input and a PyTorch script that refers to them (what the CodeLens tests look at).
// Used by runTest.js (in-host suite) and browser.test.mjs (GUI check); the suite finds it as
// vscode.workspace.workspaceFolders[0].
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');

/** The Python file of the workspace; its line texts are what the CodeLens tests look for. */
const PYTHON_FILE = 'train_adding.py';
const PYTHON_SOURCE = `"""The adding problem: an LSTM, exported for Gradient Lens."""
import torch
from torch import nn


class AddingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 32)
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[-1])


model = AddingNet()
x = torch.zeros(50, 1, 2)
torch.onnx.export(model, x, "adding-lstm.onnx")
`;

/** Fills `dir` (made afresh) with the workspace's files and returns its path. */
function fillWorkspace(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const examples = path.join(REPO, 'examples');
  for (const name of fs.readdirSync(examples)) {
    if (/\.(onnx|npy)$/.test(name)) fs.copyFileSync(path.join(examples, name), path.join(dir, name));
  }
  fs.writeFileSync(path.join(dir, PYTHON_FILE), PYTHON_SOURCE);
  return dir;
}

/** Creates the workspace under the system temp folder (or `parent`) and returns its path. */
function prepareWorkspace(parent = os.tmpdir()) {
  return fillWorkspace(fs.mkdtempSync(path.join(parent, 'gradient-lens-ws-')));
}

module.exports = { REPO, PYTHON_FILE, prepareWorkspace, fillWorkspace };

// `node test/vscode/workspace.js DIR`: (re)creates the workspace in DIR (the "Extension Tests"
// launch configuration's pre-launch task, .vscode/tasks.json).
if (require.main === module) {
  if (!process.argv[2]) {
    console.error('usage: node test/vscode/workspace.js DIR');
    process.exit(2);
  }
  console.log(`test workspace: ${fillWorkspace(path.resolve(process.argv[2]))}`);
}
