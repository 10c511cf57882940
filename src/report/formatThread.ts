/**
 * Entry of a JSON formatting thread (formatPool.ts): formats the float32 arrays it is sent
 * exactly as the writer does (writeFloat32) and sends the ASCII bytes back.
 */
import { parentPort } from 'worker_threads';
import { writeFloat32Run } from './jsonWriter';

parentPort?.on('message', (m: { id: number; data: Float32Array }) => {
  const { id, data } = m;
  const bytes = new Uint8Array(data.length * 33);
  const count = { nonFinite: 0 };
  const length = writeFloat32Run(data, 0, data.length, bytes, 0, count);
  parentPort!.postMessage({ id, bytes, length, nonFinite: count.nonFinite }, [bytes.buffer]);
});
