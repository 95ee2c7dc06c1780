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

/**
 * Columns `gap` apart; the first left-aligned and the others right-aligned,
 * unless `left` names the columns (by index) that are text, not figures.
 */
export const table = (
  rows: string[][],
  { left = [0], gap = '   ' }: { left?: readonly number[]; gap?: string } = {},
): string => {
  const widths: number[] = []
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length)
  }
  return rows
    .map((row) => {
      const line = row
        .map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
        .join(gap)
      // A text column last is padded for nothing.
      return left.includes(row.length - 1) ? line.trimEnd() : line
    })
    .join('\n')
}

/** A time of day, UTC, to the second: `14:03:27Z`. */
export const clockTime = (ms: number): string => `${new Date(ms).toISOString().slice(11, 19)}Z`

/** A moment as a person reads it in a list: `2026-11-26 14:03:27Z`. */
export const moment = (ms: number): string =>
  `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`
