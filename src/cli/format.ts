/** Human-readable figures for the CLI. */

export const int = (n: number): string => Math.round(n).toLocaleString('en-US')

export const fixed = (n: number, digits = 2): string => n.toFixed(digits)

export const duration = (ms: number): string => {
  if (!Number.isFinite(ms)) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${Math.round(s - m * 60)}s`
  const h = Math.floor(m / 60)
  return `${h}h ${m - h * 60}m`
}

/** Left-aligned first column, right-aligned others. */
export const table = (rows: string[][]): string => {
  const widths: number[] = []
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length)
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join('   '),
    )
    .join('\n')
}
