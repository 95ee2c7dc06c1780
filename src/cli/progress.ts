/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */

export interface Progress {
  update(done: number, total: number): void
  done(): void
}

export const progressBar = (
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): Progress => {
  if (!stream.isTTY) return { update() {}, done() {} }
  const started = performance.now()
  let last = 0
  const draw = (done: number, total: number) => {
    const frac = total > 0 ? Math.min(1, done / total) : 0
    const width = 30
    const fill = Math.round(frac * width)
    const secs = ((performance.now() - started) / 1000).toFixed(1)
    stream.write(
      `\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${secs}s `,
    )
  }
  return {
    update(done, total) {
      const now = performance.now()
      if (now - last < 100) return
      last = now
      draw(done, total)
    },
    done() {
      stream.write('\r\x1b[2K')
    },
  }
}
