/** Colour maps for the heatmaps: 256-entry RGBA lookup tables (theme-independent, perceptually even). */

type Stop = [number, string];

/** Viridis (matplotlib), sampled at nine points. */
const VIRIDIS: Stop[] = [
  [0, '#440154'], [0.125, '#482878'], [0.25, '#3e4989'], [0.375, '#31688e'], [0.5, '#26828e'],
  [0.625, '#1f9e89'], [0.75, '#35b779'], [0.875, '#6ece58'], [1, '#fde725'],
];

/** A blue–grey–red diverging map for signed values (0 in the middle). */
const DIVERGING: Stop[] = [
  [0, '#2166ac'], [0.2, '#4393c3'], [0.4, '#92c5de'], [0.5, '#e6e6e6'], [0.6, '#f4a582'], [0.8, '#d6604d'], [1, '#b2182b'],
];

export interface ColorMap {
  /** 256 colours as little-endian RGBA words (for a Uint32Array view of ImageData). */
  lut: Uint32Array;
  /** The same as CSS colours, for legends. */
  css: string[];
  stops: Stop[];
}

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 255, n & 255];
}

function build(stops: Stop[]): ColorMap {
  const lut = new Uint32Array(256);
  const css: string[] = [];
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < stops.length - 2 && x > stops[k + 1][0]) k++;
    const [x0, c0] = stops[k];
    const [x1, c1] = stops[k + 1];
    const f = x1 > x0 ? (x - x0) / (x1 - x0) : 0;
    const a = rgb(c0);
    const b = rgb(c1);
    const r = Math.round(a[0] + (b[0] - a[0]) * f);
    const g = Math.round(a[1] + (b[1] - a[1]) * f);
    const bl = Math.round(a[2] + (b[2] - a[2]) * f);
    lut[i] = (255 << 24) | (bl << 16) | (g << 8) | r;
    css.push(`rgb(${r}, ${g}, ${bl})`);
  }
  return { lut, css, stops };
}

export const viridis = build(VIRIDIS);
export const diverging = build(DIVERGING);
