import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { convertForOnnx, encodeNpy, NpyArray, parseNpy, readNpy, writeNpy } from '../../src/inputs/npy';
import { AnalysisError } from '../../src/onnx/errors';

/** Files written by numpy.save (NumPy 2.4) for the arrays in the comments: the oracle for both directions. */
const NUMPY = {
  // np.array([[1.5, -2.25, 3.0], [0.1, 1e-30, -7.0]], dtype='<f4')
  f4_2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAQwAAAQEDNzMw9YEKiDQAA4MA=',
  // np.array([0.1, -1e300, 5e-324], dtype='<f8')
  f8_vec: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqamZmZmZm5P5x1AIg85Df+AQAAAAAAAAA=',
  // np.array(-42, dtype='<i4')  (shape ())
  i4_scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIArW////',
  // np.array([[-2**63, 2**63-1], [0, 123456789012]], dtype='<i8')
  i8_2x2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAgP////////9/AAAAAAAAAAAUGpm+HAAAAA==',
  // np.array([True, False, True])
  b1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  // np.array([0, 255, 7], dtype='u1')
  u1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoA/wc=',
  // np.array([-32768, 32767, 1], dtype='<i2')
  i2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAgP9/AQA=',
  // np.zeros((0, 3), dtype='<f4')
  empty_0x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
  // format.write_array(f, np.array([1, 2, 3], dtype='<i4'), version=(2, 0))
  v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAgAAAAMAAAA=',
  // format.write_array(f, np.array([1.0, 2.0], dtype='<f8'), version=(3, 0))
  v3: 'k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADwPwAAAAAAAABA',
  // np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3))
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  // np.array([1, 2], dtype='>f4')
  bigEndian: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/gAAAQAAAAA==',
  // np.array([1, 2], dtype='<f2')
  f2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPABA',
  // np.array(['ab', 'c'])
  unicode: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPFUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAphAAAAYgAAAGMAAAAAAAAA',
  // np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')])
  structured: 'k05VTVBZAQB2AHsnZGVzY3InOiBbKCdhJywgJzxmNCcpLCAoJ2InLCAnPGk0JyldLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAAA',
  // np.zeros(2, dtype='<c8')
  complex: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGM4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAAA',
};

function bytes(name: keyof typeof NUMPY): Uint8Array {
  return new Uint8Array(Buffer.from(NUMPY[name], 'base64'));
}

/** A .npy file with a hand-written header dict (any alignment), for header-syntax cases NumPy does not write today. */
function handMade(dict: string, data: Uint8Array, major = 1): Uint8Array {
  const header = Buffer.from(dict + '\n', major === 3 ? 'utf8' : 'latin1');
  const prefix = major === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(header, prefix);
  out.set(data, prefix + header.length);
  return out;
}

function rejects(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AnalysisError, `expected AnalysisError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

const LABEL = "the file x.npy given for input 'ids'";

describe('npy: reading files written by NumPy', () => {
  it('float32 2×3 in C order, values exactly as float32', () => {
    const a = parseNpy(bytes('f4_2x3'), LABEL);
    assert.strictEqual(a.dtype, 'float32');
    assert.deepStrictEqual(a.shape, [2, 3]);
    const expected = [1.5, -2.25, 3.0, 0.1, 1e-30, -7.0].map(Math.fround);
    assert.deepStrictEqual(Array.from(a.data as Float32Array), expected);
  });

  it('float64 (n,) tuple with extremes: 0.1, −1e300 and the smallest subnormal', () => {
    const a = parseNpy(bytes('f8_vec'), LABEL);
    assert.strictEqual(a.dtype, 'float64');
    assert.deepStrictEqual(a.shape, [3]);
    assert.deepStrictEqual(Array.from(a.data as Float64Array), [0.1, -1e300, 5e-324]);
  });

  it('int32 scalar with shape ()', () => {
    const a = parseNpy(bytes('i4_scalar'), LABEL);
    assert.strictEqual(a.dtype, 'int32');
    assert.deepStrictEqual(a.shape, []);
    assert.deepStrictEqual(Array.from(a.data as Int32Array), [-42]);
  });

  it('int64 including both extremes, as BigInt', () => {
    const a = parseNpy(bytes('i8_2x2'), LABEL);
    assert.strictEqual(a.dtype, 'int64');
    assert.deepStrictEqual(a.shape, [2, 2]);
    assert.deepStrictEqual(Array.from(a.data as BigInt64Array), [-(2n ** 63n), 2n ** 63n - 1n, 0n, 123456789012n]);
  });

  it('bool, uint8 and int16 are read too', () => {
    const b = parseNpy(bytes('b1'), LABEL);
    assert.strictEqual(b.dtype, 'bool');
    assert.deepStrictEqual(Array.from(b.data as Uint8Array), [1, 0, 1]);
    const u = parseNpy(bytes('u1'), LABEL);
    assert.strictEqual(u.dtype, 'uint8');
    assert.deepStrictEqual(Array.from(u.data as Uint8Array), [0, 255, 7]);
    const s = parseNpy(bytes('i2'), LABEL);
    assert.strictEqual(s.dtype, 'int16');
    assert.deepStrictEqual(Array.from(s.data as Int16Array), [-32768, 32767, 1]);
  });

  it('an empty (0, 3) array', () => {
    const a = parseNpy(bytes('empty_0x3'), LABEL);
    assert.deepStrictEqual(a.shape, [0, 3]);
    assert.strictEqual(a.data.length, 0);
  });

  it('format versions 2.0 and 3.0', () => {
    const a = parseNpy(bytes('v2'), LABEL);
    assert.strictEqual(a.dtype, 'int32');
    assert.deepStrictEqual(Array.from(a.data as Int32Array), [1, 2, 3]);
    const b = parseNpy(bytes('v3'), LABEL);
    assert.strictEqual(b.dtype, 'float64');
    assert.deepStrictEqual(Array.from(b.data as Float64Array), [1, 2]);
  });

  it('the result does not alias the input bytes', () => {
    const raw = bytes('f4_2x3');
    const a = parseNpy(raw, LABEL);
    raw.fill(0, 128);
    assert.strictEqual((a.data as Float32Array)[0], 1.5);
  });
});

describe('npy: header syntax', () => {
  it('accepts Python 2 longs, double quotes, key order and an unaligned data start', () => {
    const data = new Uint8Array(new Int32Array([1, 2, 3, 4, 5, 6]).buffer);
    const a = parseNpy(handMade(`{"shape": (2L, 3L), "fortran_order": False, "descr": "<i4"}`, data), LABEL);
    assert.deepStrictEqual(a.shape, [2, 3]);
    assert.deepStrictEqual(Array.from(a.data as Int32Array), [1, 2, 3, 4, 5, 6]);
  });

  it('accepts a non-ASCII key text in a 3.0 (UTF-8) header and ignores unknown keys', () => {
    const data = new Uint8Array(new Float32Array([2.5]).buffer);
    const a = parseNpy(handMade(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'note': 'größe', }`, data, 3), LABEL);
    assert.deepStrictEqual(Array.from(a.data as Float32Array), [2.5]);
  });

  it('accepts fortran_order True when at most one axis is longer than 1 (same bytes as C order)', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const a = parseNpy(handMade(`{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }`, data), LABEL);
    assert.deepStrictEqual(Array.from(a.data as Float32Array), [1, 2, 3]);
  });

  it('a damaged dict is an error naming the file', () => {
    rejects(() => parseNpy(handMade(`{'descr': '<f4', 'fortran_order': False, 'shape': (1,`, new Uint8Array(4)), LABEL), LABEL, 'damaged');
    rejects(() => parseNpy(handMade(`{'descr': '<f4', 'shape': (1,), }`, new Uint8Array(4)), LABEL), 'fortran_order');
    rejects(() => parseNpy(handMade(`{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }`, new Uint8Array(4)), LABEL), 'damaged');
  });
});

describe('npy: errors name the input and file and say what to do', () => {
  it('not an .npy file', () => {
    rejects(() => parseNpy(new Uint8Array(Buffer.from('PK\u0003\u0004 this is a zip')), LABEL), LABEL, 'not a NumPy .npy file', 'numpy.save');
    rejects(() => parseNpy(new Uint8Array(0), LABEL), 'not a NumPy .npy file');
  });

  it('unknown format version', () => {
    const raw = bytes('v2');
    raw[6] = 4;
    rejects(() => parseNpy(raw, LABEL), 'version 4.0');
  });

  it('truncated data, and a truncated header', () => {
    const raw = bytes('f4_2x3');
    rejects(() => parseNpy(raw.subarray(0, raw.length - 1), LABEL), LABEL, 'truncated', '24 bytes', '23 bytes');
    rejects(() => parseNpy(raw.subarray(0, 60), LABEL), 'ends inside its .npy header');
  });

  it('Fortran order', () => {
    rejects(() => parseNpy(bytes('fortran'), LABEL), LABEL, 'Fortran', 'np.ascontiguousarray');
  });

  it('big-endian', () => {
    rejects(() => parseNpy(bytes('bigEndian'), LABEL), LABEL, 'big-endian', "'>f4'", "astype('<f4')");
  });

  it('unsupported dtypes list the accepted ones', () => {
    for (const name of ['f2', 'unicode', 'complex', 'structured'] as const) {
      rejects(() => parseNpy(bytes(name), LABEL), LABEL, 'float32, float64, int32 or int64');
    }
    rejects(() => parseNpy(handMade(`{'descr': '|O', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(8)), LABEL), "'|O'");
  });

  it('readNpy: a missing file or a folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    try {
      rejects(() => readNpy(path.join(dir, 'nope.npy'), 'ids'), "input 'ids'", 'nope.npy', 'does not exist');
      rejects(() => readNpy(dir, 'ids'), 'is a folder');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npy: writing', () => {
  const cases: [keyof typeof NUMPY, NpyArray][] = [
    ['f4_2x3', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2.25, 3.0, 0.1, 1e-30, -7.0]) }],
    ['f8_vec', { dtype: 'float64', shape: [3], data: Float64Array.from([0.1, -1e300, 5e-324]) }],
    ['i4_scalar', { dtype: 'int32', shape: [], data: Int32Array.from([-42]) }],
    ['i8_2x2', { dtype: 'int64', shape: [2, 2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, 123456789012n]) }],
    ['b1', { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
    ['u1', { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 255, 7]) }],
    ['i2', { dtype: 'int16', shape: [3], data: Int16Array.from([-32768, 32767, 1]) }],
    ['empty_0x3', { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) }],
  ];
  for (const [name, array] of cases) {
    it(`encodeNpy is byte-identical to numpy.save: ${name}`, () => {
      assert.deepStrictEqual(Buffer.from(encodeNpy(array)), Buffer.from(bytes(name)));
    });
  }

  it('writeNpy then readNpy round-trips every dtype', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    try {
      const arrays: NpyArray[] = [
        { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, NaN, -Infinity, 3e-45]) },
        { dtype: 'uint64', shape: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
        { dtype: 'uint32', shape: [2], data: Uint32Array.from([0, 4294967295]) },
        { dtype: 'uint16', shape: [1], data: Uint16Array.from([65535]) },
        { dtype: 'int8', shape: [2], data: Int8Array.from([-128, 127]) },
      ];
      arrays.forEach((a, i) => {
        const file = path.join(dir, `a${i}.npy`);
        writeNpy(file, a);
        const back = readNpy(file);
        assert.strictEqual(back.dtype, a.dtype);
        assert.deepStrictEqual(back.shape, a.shape);
        assert.deepStrictEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(a.data as ArrayLike<unknown>));
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a header over 65535 bytes switches to version 2.0', () => {
    const shape = new Array<number>(30000).fill(1);
    const enc = encodeNpy({ dtype: 'float32', shape, data: Float32Array.from([7]) });
    assert.strictEqual(enc[6], 2);
    const hlen = new DataView(enc.buffer).getUint32(8, true);
    assert.strictEqual((12 + hlen) % 64, 0);
    const back = parseNpy(enc, LABEL);
    assert.strictEqual(back.shape.length, 30000);
    assert.deepStrictEqual(Array.from(back.data as Float32Array), [7]);
  });

  it('refuses data whose length does not match the shape', () => {
    assert.throws(() => encodeNpy({ dtype: 'float32', shape: [2, 2], data: new Float32Array(3) }), RangeError);
  });
});

describe('npy: convertForOnnx', () => {
  const FLOAT = 1, INT32 = 6, INT64 = 7, DOUBLE = 11, BOOL = 9;

  it('returns the array itself when the type already matches', () => {
    const a: NpyArray = { dtype: 'int64', shape: [1], data: BigInt64Array.from([5n]) };
    assert.strictEqual(convertForOnnx(a, INT64, LABEL), a);
  });

  it('float64 → float32 rounds to nearest float32', () => {
    const out = convertForOnnx({ dtype: 'float64', shape: [3], data: Float64Array.from([0.1, 1 / 3, -1e-50]) }, FLOAT, LABEL);
    assert.strictEqual(out.dtype, 'float32');
    assert.deepStrictEqual(Array.from(out.data as Float32Array), [Math.fround(0.1), Math.fround(1 / 3), -0]);
  });

  it('float64 beyond float32 range is an error naming the index', () => {
    rejects(() => convertForOnnx({ dtype: 'float64', shape: [2, 2], data: Float64Array.from([0, 0, 0, 1e39]) }, FLOAT, LABEL), LABEL, '[1, 1]', 'overflows');
  });

  it('int64 → int32 within range, and the first value out of range is named', () => {
    const ok = convertForOnnx({ dtype: 'int64', shape: [2], data: BigInt64Array.from([-2147483648n, 2147483647n]) }, INT32, LABEL);
    assert.deepStrictEqual(Array.from(ok.data as Int32Array), [-2147483648, 2147483647]);
    rejects(() => convertForOnnx({ dtype: 'int64', shape: [3], data: BigInt64Array.from([0n, 2147483648n, -9n]) }, INT32, LABEL), LABEL, '2147483648', '[1]', 'int32');
    rejects(() => convertForOnnx({ dtype: 'int64', shape: [1], data: BigInt64Array.from([-(2n ** 63n)]) }, INT32, LABEL), 'does not fit');
  });

  it('int32 → int64, int64 → float32/float64, int32 → double', () => {
    assert.deepStrictEqual(Array.from(convertForOnnx({ dtype: 'int32', shape: [2], data: Int32Array.from([-3, 4]) }, INT64, LABEL).data as BigInt64Array), [-3n, 4n]);
    assert.deepStrictEqual(Array.from(convertForOnnx({ dtype: 'int64', shape: [2], data: BigInt64Array.from([16777217n, -2n]) }, FLOAT, LABEL).data as Float32Array), [16777216, -2]);
    assert.deepStrictEqual(Array.from(convertForOnnx({ dtype: 'int64', shape: [1], data: BigInt64Array.from([2n ** 53n + 1n]) }, DOUBLE, LABEL).data as Float64Array), [2 ** 53]);
    assert.deepStrictEqual(Array.from(convertForOnnx({ dtype: 'int32', shape: [1], data: Int32Array.from([7]) }, DOUBLE, LABEL).data as Float64Array), [7]);
  });

  it('integral floats feed integer inputs; fractional ones are errors', () => {
    const ids = convertForOnnx({ dtype: 'float32', shape: [3], data: Float32Array.from([0, 5, 2 ** 24]) }, INT64, LABEL);
    assert.deepStrictEqual(Array.from(ids.data as BigInt64Array), [0n, 5n, 16777216n]);
    rejects(() => convertForOnnx({ dtype: 'float64', shape: [2], data: Float64Array.from([1, 1.5]) }, INT64, LABEL), 'non-integer value 1.5', '[1]');
    rejects(() => convertForOnnx({ dtype: 'float32', shape: [1], data: Float32Array.from([NaN]) }, INT32, LABEL), 'non-integer');
    rejects(() => convertForOnnx({ dtype: 'float64', shape: [1], data: Float64Array.from([2 ** 63]) }, INT64, LABEL), 'does not fit');
    const edge = convertForOnnx({ dtype: 'float64', shape: [1], data: Float64Array.from([-(2 ** 63)]) }, INT64, LABEL);
    assert.deepStrictEqual(Array.from(edge.data as BigInt64Array), [-(2n ** 63n)]);
  });

  it('other dtypes and other ONNX types are errors listing what is accepted', () => {
    rejects(() => convertForOnnx({ dtype: 'uint8', shape: [1], data: Uint8Array.from([1]) }, INT64, LABEL), LABEL, 'uint8', 'float32, float64, int32 or int64');
    rejects(() => convertForOnnx({ dtype: 'float32', shape: [1], data: Float32Array.from([1]) }, BOOL, LABEL), 'bool', 'float32, float64, int32 and int64');
  });
});
