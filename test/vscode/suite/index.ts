/**
 * Entry point of the extension tests inside the VS Code extension host (@vscode/test-electron's
 * extensionTestsPath contract: export run(), reject when any test fails). Runs every
 * out/test/vscode/suite/*.test.js with mocha and prints "N passed, M failed".
 */
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, reporter: 'spec', timeout: 150_000 });
  const files = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const total = runner.stats?.tests ?? runner.total;
        const passed = runner.stats?.passes ?? total - failures;
        console.log(`${passed} passed, ${failures} failed`);
        if (failures > 0) reject(new Error(`${failures} of ${total} extension tests failed.`));
        else resolve();
      });
    } catch (e) {
      reject(e);
    }
  });
}
