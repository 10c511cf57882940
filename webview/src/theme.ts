/**
 * Chart colours from the current theme: VS Code's CSS variables in a webview, the standalone
 * report's prefers-color-scheme fallbacks otherwise (panel.css maps both onto --gl-* names).
 * Charts are canvases, so they read the colours once per render and re-render on a theme change.
 */

export interface Palette {
  fg: string;
  muted: string;
  bg: string;
  grid: string;
  border: string;
  hoverBg: string;
  hoverFg: string;
  hoverBorder: string;
  red: string;
  green: string;
  yellow: string;
  orange: string;
  blue: string;
  purple: string;
  /** Distinct series colours, theme-aware, in a fixed order. */
  series: string[];
  font: string;
  mono: string;
  highContrast: boolean;
  dark: boolean;
  /** Line width for data series (thicker in high contrast). */
  line: number;
}

export function readPalette(): Palette {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const cls = document.body.classList;
  const highContrast = cls.contains('vscode-high-contrast') || cls.contains('vscode-high-contrast-light');
  const dark = cls.contains('vscode-dark') || (cls.contains('vscode-high-contrast') && !cls.contains('vscode-high-contrast-light'))
    || cls.contains('gl-dark');
  const red = v('--gl-red', '#e51400');
  const green = v('--gl-green', '#388a34');
  const yellow = v('--gl-yellow', '#bf8803');
  const orange = v('--gl-orange', '#d18616');
  const blue = v('--gl-blue', '#1a85ff');
  const purple = v('--gl-purple', '#652d90');
  const teal = dark ? '#4ec9b0' : '#16825d';
  const pink = dark ? '#f48fb1' : '#c2185b';
  return {
    fg: v('--gl-fg', dark ? '#cccccc' : '#3b3b3b'),
    muted: v('--gl-muted', dark ? '#9d9d9d' : '#717171'),
    bg: v('--gl-bg', dark ? '#1f1f1f' : '#ffffff'),
    // Canvas colours must be plain CSS colours (no color-mix): the grid is the theme's chart lines, fainter.
    grid: withAlpha(v('--gl-grid', dark ? 'rgba(204,204,204,0.5)' : 'rgba(97,97,97,0.5)'), highContrast ? 0.6 : 0.22),
    border: v('--gl-border', dark ? '#3c3c3c' : '#e5e5e5'),
    hoverBg: v('--gl-hover-bg', dark ? '#252526' : '#f8f8f8'),
    hoverFg: v('--gl-hover-fg', dark ? '#cccccc' : '#3b3b3b'),
    hoverBorder: v('--gl-hover-border', dark ? '#454545' : '#c8c8c8'),
    red, green, yellow, orange, blue, purple,
    series: [blue, orange, green, red, purple, yellow, teal, pink],
    font: v('--gl-font', 'system-ui, sans-serif'),
    mono: v('--gl-mono', 'monospace'),
    highContrast,
    dark,
    line: highContrast ? 3 : 1.75,
  };
}

/**
 * Calls `onChange` when the theme changes: VS Code swaps the body's classes (vscode-light,
 * vscode-dark, vscode-high-contrast…); the standalone report follows prefers-color-scheme, which
 * it mirrors into a body class so that the toolkit's own listener (which watches that attribute)
 * re-reads its tokens too.
 */
export function watchTheme(standalone: boolean, onChange: () => void): () => void {
  let pending = 0;
  const schedule = () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(onChange);
  };
  const observer = new MutationObserver(schedule);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  let query: MediaQueryList | undefined;
  const mirror = () => {
    const dark = !!query?.matches;
    document.body.classList.toggle('gl-dark', dark);
    document.body.classList.toggle('gl-light', !dark);
  };
  if (standalone && typeof matchMedia === 'function') {
    query = matchMedia('(prefers-color-scheme: dark)');
    mirror();
    query.addEventListener('change', mirror);
  }
  return () => {
    observer.disconnect();
    query?.removeEventListener('change', mirror);
  };
}

/** `color` with alpha, for '#rrggbb[aa]', '#rgb' and 'rgb[a]()' colours (others are returned as they are). */
export function withAlpha(color: string, alpha: number): string {
  const c = color.trim();
  let m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(c);
  if (m) {
    const n = parseInt(m[1], 16);
    return `rgba(${n >> 16}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  if (m) return `rgba(${parseInt(m[1] + m[1], 16)}, ${parseInt(m[2] + m[2], 16)}, ${parseInt(m[3] + m[3], 16)}, ${alpha})`;
  const rgb = /^rgba?\(([^,]+),([^,]+),([^,)]+)/.exec(c);
  if (rgb) return `rgba(${rgb[1].trim()}, ${rgb[2].trim()}, ${rgb[3].trim()}, ${alpha})`;
  return c;
}
