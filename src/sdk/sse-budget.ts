/**
 * What the SDK lets one stream event take, counted on the raw bytes before
 * they reach the SSE parser: an event (its lines, up to the blank line that
 * ends it) and so every line in it, the unfinished one included, at most
 * `maxBytes`. A server that sends one endless line or one endless event is
 * cut at the limit instead of buffered without bound.
 */
const LF = 10
const CR = 13

export class SseBudget {
  /** Bytes of the line being read. */
  #line = 0
  /** Bytes of the event being read, its finished lines (with their ends). */
  #event = 0
  /** The last byte ended a line with CR: an LF right after it ends the same line. */
  #cr = false

  constructor(readonly maxBytes: number) {}

  /** Count one chunk; false once an event or a line is over the limit (read no further). */
  take(bytes: Uint8Array): boolean {
    let i = 0
    let lf = bytes.indexOf(LF)
    let cr = bytes.indexOf(CR)
    while (i < bytes.length) {
      if (lf !== -1 && lf < i) lf = bytes.indexOf(LF, i)
      if (cr !== -1 && cr < i) cr = bytes.indexOf(CR, i)
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (end === -1) {
        this.#line += bytes.length - i
        this.#cr = false
        return this.#event + this.#line <= this.maxBytes
      }
      const n = end - i
      i = end + 1
      if (n === 0 && this.#line === 0 && this.#cr && bytes[end] === LF) {
        this.#cr = false
        continue
      }
      this.#cr = bytes[end] === CR
      this.#line += n
      if (this.#line === 0) {
        // A blank line: the event is complete.
        this.#event = 0
        continue
      }
      this.#event += this.#line + 1
      this.#line = 0
      if (this.#event > this.maxBytes) return false
    }
    return this.#event + this.#line <= this.maxBytes
  }
}
