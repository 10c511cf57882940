/**
 * `gradient-lens compare`: one line per layer direction whose verdict, survival to the first step,
 * reach and ρ are the reports' own, then each story; bad files are usage errors naming the file.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, REPO } from './helpers';
import { cli, removeTempDirs, tempDir } from './cliHelpers';
import { writeReportJson } from '../../src/report/jsonWriter';
import { percent } from '../../src/report/story';
import type { Report } from '../../src/report/types';

after(removeTempDirs);

describe('gradient-lens compare', function () {
  this.timeout(120000);
  const files: string[] = [];
  const reports: Report[] = [];
  before(async () => {
    const dir = tempDir('gl-compare-');
    for (const m of ['rnn', 'lstm']) {
      const report = await analyze(path.join(REPO, 'examples', `adding-${m}.onnx`), { files: { x: path.join(REPO, 'examples', 'adding-sample.npy') } });
      const file = path.join(dir, `${m}.json`);
      await writeReportJson(report, file, { detail: 'metrics' });
      files.push(file);
      reports.push(report);
    }
  });

  it('prints each model\'s verdict, survival, reach and ρ as its report has them', async () => {
    const r = await cli('compare', ...files);
    assert.strictEqual(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    reports.forEach((report, i) => {
      const d = report.layers[0].directions[0];
      const decay = d.metrics.decay!;
      const line = lines.find((l) => l.includes(path.basename(report.model.path)) && l.includes(report.layers[0].op));
      assert.ok(line, `a line for ${report.model.path}: ${r.stdout}`);
      assert.match(line!, new RegExp(`\\b${decay.verdict}\\b`));
      // (The state basis, as the verdict's: an LSTM's headline may quote its cell path instead.)
      assert.ok(line!.includes(`state ${percent(decay.survival!)} to the first step`), line);
      assert.ok(line!.includes(decay.reach === null ? `beyond T = ${report.layers[0].seqLen}` : `reach ${decay.reach} steps`), line);
      const rho = /ρ ([\d.e-]+)/.exec(line!);
      assert.ok(rho && Math.abs(Number(rho[1]) - decay.rho!) <= 5e-4 * decay.rho!, line);
    });
    assert.match(r.stdout, /adding-rnn\.onnx: vanishing: /);
  });

  it('two reports of one model are told apart by their files; stories say "not measured" as analyze does', async () => {
    const dir = tempDir('gl-compare-');
    const again = path.join(dir, 'lstm-seed7.json');
    await writeReportJson(await analyze(path.join(REPO, 'examples', 'adding-lstm.onnx'), { seed: 7, jacobian: 'off' }), again, { detail: 'metrics' });
    const r = await cli('compare', files[1], again);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /adding-lstm\.onnx \(lstm\.json\) +LSTM/);
    assert.match(r.stdout, /adding-lstm\.onnx \(lstm-seed7\.json\) +LSTM +not measured/);
    assert.match(r.stdout, /adding-lstm\.onnx \(lstm-seed7\.json\): not measured: /);
    assert.doesNotMatch(r.stdout, /unmeasured/);
    const twice = await cli('compare', again, again);
    assert.match(twice.stdout, /\(lstm-seed7\.json #1\)[\s\S]*\(lstm-seed7\.json #2\)/);
  });

  it('--help prints its usage; an HTML page or other non-JSON file is named as not a JSON report', async () => {
    const help = await cli('compare', '--help');
    assert.strictEqual(help.code, 0);
    assert.match(help.stdout, /^usage: gradient-lens compare REPORT\.json/);
    const dir = tempDir('gl-compare-');
    const page = path.join(dir, 'report.html');
    fs.writeFileSync(page, '<!doctype html><html></html>');
    const r = await cli('compare', files[0], page);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /report\.html is not a JSON report \(compare reads the files written by analyze --json, not the HTML page\)/);
    assert.doesNotMatch(r.stderr, /Unexpected token/);
  });

  it("an analyze option or '-' is a usage error, not a file looked for", async () => {
    for (const [arg, said] of [['--json', /'--json' is not one of its options/], ['--quiet', /'--quiet' is not one of its options/], ['-', /not standard input/]] as const) {
      const r = await cli('compare', files[0], files[1], arg, ...(arg === '--json' ? ['x.json'] : []));
      assert.strictEqual(r.code, 2, `${arg}: ${r.stderr}`);
      assert.match(r.stderr, said);
      assert.doesNotMatch(r.stderr, /no such file/);
      assert.strictEqual(r.stdout, '');
    }
  });

  it('a missing file or a JSON that is no report is a usage error naming it', async () => {
    const missing = await cli('compare', '/nonexistent/x.json');
    assert.strictEqual(missing.code, 2);
    assert.match(missing.stderr, /\/nonexistent\/x\.json: no such file/);
    const dir = tempDir('gl-compare-');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"schema": "something else"}');
    const wrong = await cli('compare', bad);
    assert.strictEqual(wrong.code, 2);
    assert.match(wrong.stderr, /bad\.json: the report's schema is "something else"/);
  });
});
