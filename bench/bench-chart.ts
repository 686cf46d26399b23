/**
 * The ALG bench's chart: an SVG written by hand (a few rectangles and
 * labels need no chart library), turned into PNG by rsvg-convert (Debian
 * librsvg2-bin, installed by scripts/setup), which renders headlessly with
 * no native Node module to build.
 *
 * Two panels. "algd ÷ kernel": one bar per figure compared with the
 * kernel's ALG (kernel = 1), the goal marked on the row. "against a
 * limit": the figure divided by its limit (below 1 meets it). Bars are
 * green where the goal is met, red where not.
 */

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export interface RatioBar {
  readonly label: string;
  /** algd's figure divided by the kernel's (higher is better). */
  readonly ratio: number;
  /** The least ratio the goal accepts. */
  readonly goal: number;
  /** The figures themselves, printed at the bar's end. */
  readonly detail: string;
}

export interface LimitBar {
  readonly label: string;
  /** The figure divided by its limit (lower is better; < 1 meets it). */
  readonly share: number;
  readonly detail: string;
}

export interface ChartInput {
  readonly title: string;
  readonly subtitle: string;
  readonly ratios: readonly RatioBar[];
  readonly limits: readonly LimitBar[];
}

const WIDTH = 960;
const LABEL_W = 260;
const BAR_W = 420;
const ROW_H = 34;
const GREEN = '#2e7d32';
const RED = '#c62828';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`;
}

/** One panel of horizontal bars on a 0..`max` scale with a reference line at `ref`. */
function panel(top: number, heading: string, max: number, ref: number, refLabel: string, rows: readonly { label: string; value: number; ok: boolean; detail: string; goal?: number }[]): { svg: string; height: number } {
  const x0 = LABEL_W;
  const scale = (v: number): number => (Math.min(Math.max(v, 0), max) / max) * BAR_W;
  const parts = [text(16, top + 18, heading, 'font-weight="bold" font-size="15"')];
  const y0 = top + 30;
  rows.forEach((r, i) => {
    const y = y0 + i * ROW_H;
    parts.push(text(16, y + 20, r.label, 'font-size="13"'));
    parts.push(`<rect x="${x0}" y="${y + 6}" width="${scale(r.value).toFixed(1)}" height="${ROW_H - 12}" fill="${r.ok ? GREEN : RED}"/>`);
    if (r.goal !== undefined) {
      const gx = x0 + scale(r.goal);
      parts.push(`<line x1="${gx}" y1="${y + 2}" x2="${gx}" y2="${y + ROW_H - 2}" stroke="#000" stroke-width="2"/>`);
    }
    parts.push(text(x0 + BAR_W + 12, y + 20, r.detail, 'font-size="12"'));
  });
  const bottom = y0 + rows.length * ROW_H;
  const rx = x0 + scale(ref);
  parts.push(`<line x1="${rx}" y1="${y0}" x2="${rx}" y2="${bottom}" stroke="#555" stroke-dasharray="4 3"/>`);
  parts.push(`<line x1="${x0}" y1="${bottom}" x2="${x0 + BAR_W}" y2="${bottom}" stroke="#555"/>`);
  const step = max <= 1.5 ? 0.25 : max <= 3 ? 0.5 : max <= 6 ? 1 : Math.ceil(max / 5);
  for (let t = 0; t <= max + 1e-9; t += step) parts.push(text(x0 + scale(t) - 8, bottom + 16, String(Number(t.toFixed(2))), 'font-size="11"'));
  parts.push(text(rx + 4, y0 - 4, refLabel, 'font-size="11" fill="#555"'));
  return { svg: parts.join('\n'), height: bottom + 26 - top };
}

export function chartSvg(c: ChartInput): string {
  const ratioMax = Math.max(1.25, ...c.ratios.map((r) => Math.ceil(r.ratio * 4) / 4));
  const a = panel(56, 'algd ÷ kernel ALG (kernel = 1; black tick: goal)', ratioMax, 1, 'kernel', c.ratios.map((r) => ({ label: r.label, value: r.ratio, ok: r.ratio >= r.goal, detail: r.detail, goal: r.goal })));
  const limitMax = Math.max(1.25, ...c.limits.map((l) => Math.ceil(l.share * 4) / 4));
  const b = panel(56 + a.height + 10, 'algd against a limit (figure ÷ limit; below 1 meets it)', limitMax, 1, 'limit', c.limits.map((l) => ({ label: l.label, value: l.share, ok: l.share < 1, detail: l.detail })));
  const height = 56 + a.height + 10 + b.height + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(16, 24, c.title, 'font-weight="bold" font-size="17"'),
    text(16, 44, c.subtitle, 'font-size="12" fill="#444"'),
    a.svg,
    b.svg,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the SVG and converts it to PNG; resolves with the PNG's path, or undefined (and why) when rsvg-convert is missing or fails. */
export function writeChart(c: ChartInput, svgFile: string, pngFile: string): { png?: string; problem?: string } {
  writeFileSync(svgFile, chartSvg(c));
  const r = spawnSync('rsvg-convert', ['--format', 'png', '--output', pngFile, svgFile], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) return { problem: `rsvg-convert did not run (${r.error.message}); scripts/setup installs librsvg2-bin` };
  if (r.status !== 0) return { problem: `rsvg-convert exited ${r.status}: ${r.stderr.trim()}` };
  return { png: pngFile };
}
