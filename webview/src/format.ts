/** Number and text formatting shared by the panel's cards, axes and tooltips. */

import { num } from '../../src/report/story';

/** A short human number, exactly as the CLI prints it (one function for both). */
export { num };

/** A percentage of a fraction: "3.1%", "0.05%", "0%". */
export function pct(x: number): string {
  if (x === 0) return '0%';
  return `${(100 * x).toFixed(x < 0.001 ? 2 : 1)}%`;
}

/**
 * The exact value for tooltips: the shortest decimal that reads back to the same float32 (for
 * Float32Array data) or float64 number — never a rounded display value.
 */
export function exact(x: number, float32 = false): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return '0';
  const a = Math.abs(x);
  const expo = a >= 1e5 || a < 1e-3;
  if (float32) {
    const target = Math.fround(x);
    for (let p = 1; p <= 9; p++) {
      const s = expo ? x.toExponential(p - 1) : x.toPrecision(p);
      if (Math.fround(Number(s)) === target) return tidy(s);
    }
  }
  if (!expo) return String(x);
  for (let p = 1; p <= 17; p++) {
    const s = x.toExponential(p - 1);
    if (Number(s) === x) return tidy(s);
  }
  return String(x);
}

/** Drops trailing zeros and writes exponents as "e-11" / "e5" (ASCII, so copied values paste as numbers). */
function tidy(s: string): string {
  const [mantissa, exponent] = s.split('e');
  let m = mantissa;
  if (m.includes('.')) m = m.replace(/0+$/, '').replace(/\.$/, '');
  if (exponent === undefined) return m;
  return `${m}e${exponent.replace('+', '')}`;
}

/** Axis labels on a log axis: 1e-11, 0.001, 1, 100, 1e5. */
export function logTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  const e = Math.round(Math.log10(a));
  if (Math.abs(a - 10 ** e) / a < 1e-6) return `1e${e}`;
  return v.toExponential(1).replace('e+', 'e');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "1.4 steps" with the number's natural precision. */
export function steps(n: number, digits = 2): string {
  const s = n >= 100 && Number.isFinite(n) ? String(Math.round(n)) : num(n, digits);
  return `${s} ${s === '1' ? 'step' : 'steps'}`;
}

export function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function baseName(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

/** A value in a tooltip: 4 significant digits (NaN and ±∞ spelled out). The exact value stays in the JSON. */
export function tipValue(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  return num(x, 4);
}

/** Bytes as MB with one decimal below 10 MB ("3.2 MB", "320 MB"). */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / 1e6;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}
