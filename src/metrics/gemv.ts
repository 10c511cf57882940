/**
 * A float64 matrix–vector product in WebAssembly SIMD, for the spectrum's Lanczos iteration
 * (metrics/spectrum.ts), which spends nearly all its time in M v. About 2.5× the fastest plain
 * JavaScript loop measured (f64x2 lanes, no bounds checks): the helper thread that computes the
 * spectrum shares the CPU with onnxruntime's own threads, so its time is the analysis's time.
 *
 * The module is written out byte by byte below (it is 200 bytes; a toolchain would be a build
 * dependency for one loop). Its one function is
 *
 *   gemv(a, rows, stride, x, y):  y[i] = Σ_{j < stride} A[i·stride + j] · x[j]   for i < rows
 *
 * with byte offsets a, x, y into its exported memory and stride a multiple of 4: the inner loop
 * takes four doubles per trip in two f64x2 accumulators (lanes j mod 4 = 0,1 and 2,3), summed as
 * (acc₀ + acc₁) and then lane 0 + lane 1. Callers pad rows with zeros to the stride.
 */

/** The few WebAssembly declarations used here (the project's lib is ES2022, which has none). */
declare namespace WebAssembly {
  class Module { constructor(bytes: Uint8Array); }
  class Instance { constructor(module: Module); readonly exports: Record<string, unknown>; }
  class Memory { readonly buffer: ArrayBuffer; grow(pages: number): number; }
  function validate(bytes: Uint8Array): boolean;
}

const ZERO_V128 = new Array<number>(16).fill(0);

// Locals: 0 a, 1 rows, 2 stride, 3 x, 4 y (params); 5 i, 6 j, 7 p, 8 q (i32); 9 acc0, 10 acc1 (v128).
const GEMV_CODE = [
  0x02, 0x40, 0x03, 0x40, //                       block loop  (over rows i)
  0x20, 5, 0x20, 1, 0x4f, 0x0d, 1, //              br_if end when i ≥ rows (unsigned)
  0xfd, 0x0c, ...ZERO_V128, 0x21, 9, //            acc0 = 0
  0xfd, 0x0c, ...ZERO_V128, 0x21, 10, //           acc1 = 0
  0x20, 0, 0x20, 5, 0x20, 2, 0x6c, 0x41, 3, 0x74, 0x6a, 0x21, 7, // p = a + (i·stride << 3)
  0x20, 3, 0x21, 8, //                             q = x
  0x41, 0, 0x21, 6, //                             j = 0
  0x02, 0x40, 0x03, 0x40, //                       block loop  (over columns, 4 per trip)
  0x20, 6, 0x20, 2, 0x4f, 0x0d, 1, //              br_if end when j ≥ stride
  // acc0 += v128.load(p) · v128.load(q);  acc1 += v128.load(p + 16) · v128.load(q + 16)
  0x20, 9, 0x20, 7, 0xfd, 0x00, 3, 0, 0x20, 8, 0xfd, 0x00, 3, 0, 0xfd, 0xf2, 0x01, 0xfd, 0xf0, 0x01, 0x21, 9,
  0x20, 10, 0x20, 7, 0xfd, 0x00, 3, 16, 0x20, 8, 0xfd, 0x00, 3, 16, 0xfd, 0xf2, 0x01, 0xfd, 0xf0, 0x01, 0x21, 10,
  0x20, 7, 0x41, 32, 0x6a, 0x21, 7, //             p += 32
  0x20, 8, 0x41, 32, 0x6a, 0x21, 8, //             q += 32
  0x20, 6, 0x41, 4, 0x6a, 0x21, 6, //              j += 4
  0x0c, 0, 0x0b, 0x0b, //                          br loop; end; end
  0x20, 4, 0x20, 5, 0x41, 3, 0x74, 0x6a, //        address y + (i << 3)
  0x20, 9, 0x20, 10, 0xfd, 0xf0, 0x01, 0x21, 9, // acc0 += acc1
  0x20, 9, 0xfd, 0x21, 0, 0x20, 9, 0xfd, 0x21, 1, 0xa0, // lane 0 + lane 1
  0x39, 3, 0, //                                   f64.store
  0x20, 5, 0x41, 1, 0x6a, 0x21, 5, //              i += 1
  0x0c, 0, 0x0b, 0x0b, //                          br loop; end; end
  0x0b, //                                         end of function
];

function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function moduleBytes(): Uint8Array {
  const section = (id: number, bytes: number[]) => [id, ...leb128(bytes.length), ...bytes];
  const name = (s: string) => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const body = [2, 4, 0x7f, 2, 0x7b, ...GEMV_CODE]; // locals: 4 × i32, 2 × v128
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 5, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]), // type (i32 × 5) → ()
    ...section(3, [1, 0]), //                                      one function of type 0
    ...section(5, [1, 0, 1]), //                                   memory, 1 page to start
    ...section(7, [2, ...name('gemv'), 0, 0, ...name('mem'), 2, 0]),
    ...section(10, [1, ...leb128(body.length), ...body]),
  ]);
}

let compiled: WebAssembly.Module | null | undefined;

/** Switch the kernel off (`enabled = false`) to run the JavaScript fallback, as tests do. */
export const gemvSettings = { enabled: true };

/** The compiled module, or null where WebAssembly SIMD is unavailable (callers fall back to JavaScript). */
function gemvModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      const bytes = moduleBytes();
      compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

export const GEMV_STRIDE_MULTIPLE = 4;

/** Round n up to the stride multiple the kernel needs. */
export function paddedStride(n: number): number {
  return Math.ceil(n / GEMV_STRIDE_MULTIPLE) * GEMV_STRIDE_MULTIPLE;
}

/**
 * An instance with its own memory, laid out by the caller in float64 slots: `alloc(n)` reserves
 * n doubles (zeroed) and returns their view and byte offset; `gemv` runs the kernel.
 */
export interface GemvArena {
  alloc(n: number): { view: Float64Array; offset: number };
  gemv(a: number, rows: number, stride: number, x: number, y: number): void;
}

/** An arena of `doubles` float64 slots, or null where WebAssembly SIMD is unavailable. */
export function gemvArena(doubles: number): GemvArena | null {
  const mod = gemvSettings.enabled ? gemvModule() : null;
  if (!mod) return null;
  const instance = new WebAssembly.Instance(mod);
  const { gemv, mem } = instance.exports as { gemv: (a: number, rows: number, stride: number, x: number, y: number) => void; mem: WebAssembly.Memory };
  const bytes = doubles * 8;
  const have = mem.buffer.byteLength;
  if (bytes > have) mem.grow(Math.ceil((bytes - have) / 65536));
  let used = 0;
  return {
    alloc(n) {
      if (used + n > doubles) throw new RangeError(`gemv arena: ${used} + ${n} doubles exceed its ${doubles}`);
      const offset = used * 8;
      used += n;
      return { view: new Float64Array(mem.buffer, offset, n), offset };
    },
    gemv,
  };
}
