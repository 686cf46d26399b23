/** Columns padded to their widest cell, two spaces apart, no trailing blanks: the CLI's tables. */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

/** `a 1, b 2` for a record of counts, leaving out zeros; `-` when nothing is left. */
export function countsText(counts: Readonly<Record<string, number | undefined>>): string {
  const parts = Object.entries(counts).filter(([, n]) => (n ?? 0) > 0).map(([k, n]) => `${k} ${n}`);
  return parts.length > 0 ? parts.join(', ') : '-';
}
