/**
 * Entry of a JSON formatting thread (formatPool.ts): formats the float32 arrays it is sent
 * exactly as the writer does (writeFloat32) and sends the ASCII bytes back.
 */
import { parentPort } from 'worker_threads';
import { writeFloat32 } from './jsonWriter';

parentPort?.on('message', (m: { id: number; data: Float32Array }) => {
  const { id, data } = m;
  // writeFloat32 needs at most 32 bytes per number; plus a comma.
  const bytes = new Uint8Array(data.length * 33);
  let pos = 0;
  let nonFinite = 0;
  for (let i = 0; i < data.length; i++) {
    if (i > 0) bytes[pos++] = 44; // ','
    const x = data[i];
    if (Number.isFinite(x)) pos = writeFloat32(x, bytes, pos);
    else { nonFinite++; bytes[pos++] = 110; bytes[pos++] = 117; bytes[pos++] = 108; bytes[pos++] = 108; } // null
  }
  parentPort!.postMessage({ id, bytes, length: pos, nonFinite }, [bytes.buffer]);
});
