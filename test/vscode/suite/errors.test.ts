/** A model that cannot be read fails with a sentence naming it, and the extension keeps working. */
import * as assert from 'assert';
import * as fs from 'fs';
import { ANALYZE_MS, api, within, workspaceFile } from './helpers';

describe('errors', () => {
  it('a corrupt .onnx rejects with an error naming the file; the next analysis still works', async () => {
    const gl = await api();
    const corrupt = workspaceFile('corrupt.onnx');
    // Protobuf-invalid bytes: a field tag with wire type 7 that no reader can skip.
    fs.writeFileSync(corrupt, Buffer.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13, 0x37, 0x42, 0xde, 0xad, 0xbe, 0xef]));
    await assert.rejects(within(gl.analyze(corrupt), ANALYZE_MS, 'api.analyze(corrupt.onnx) did not settle'), (e: Error) => {
      assert.match(e.message, /corrupt\.onnx/, `the error does not name the file: ${e.message}`);
      return true;
    });
    const report = await within(gl.analyze(workspaceFile('adding-rnn.onnx')), ANALYZE_MS, 'api.analyze(adding-rnn.onnx) did not settle');
    assert.strictEqual(report.layers[0]?.op, 'RNN');
  });
});
