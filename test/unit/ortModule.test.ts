/** The onnxruntime warm-up the CLI runs on its main thread (runtime/ortModule.ts). */
import * as assert from 'assert';
import { decodeModel } from '../../src/onnx/model';
import { loadOrt, WARM_MODEL_BASE64 } from '../../src/runtime/ortModule';

describe('runtime: onnxruntime warm-up', () => {
  it('its model is an Identity of one float that onnxruntime runs', async () => {
    const bytes = Buffer.from(WARM_MODEL_BASE64, 'base64');
    const model = decodeModel(bytes, 'warm.onnx');
    assert.deepStrictEqual(model.proto.graph.node.map((n) => n.op_type), ['Identity']);
    const ort = loadOrt();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 4 });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([2.5]), [1]) });
    assert.deepStrictEqual(Array.from(out.y.data as Float32Array), [2.5]);
    await session.release();
  });
});
