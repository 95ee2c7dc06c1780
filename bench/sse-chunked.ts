/**
 * The chunked SSE body of a raw-socket bench client, decoded: the HTTP
 * chunking undone (sizes, CRLFs, either split across reads at any byte)
 * and the text split into frames at blank lines. One state per client
 * slot, in typed arrays, for the tens of thousands of clients a process
 * holds (fleet-clients.ts, catalog-clients.ts).
 */
export class ChunkedFrames {
  /** Bytes left in the current chunk; -1: a size line next; -2: the CRLF after a chunk. */
  readonly #left: Int32Array
  /** Text of the frame being read. */
  readonly #frames: string[]
  /** Part of a size line or of a CRLF, split across reads. */
  readonly #pending: string[]

  constructor(
    count: number,
    private readonly onFrame: (i: number, frame: string) => void,
  ) {
    this.#left = new Int32Array(count).fill(-1)
    this.#frames = new Array(count).fill('')
    this.#pending = new Array(count).fill('')
  }

  /** Client i's stream starts (or starts again): nothing read yet. */
  start(i: number): void {
    this.#left[i] = -1
    this.#frames[i] = ''
    this.#pending[i] = ''
  }

  /** Body bytes of client i's 200 (chunked): each whole frame goes to onFrame. */
  feed(i: number, s: string): void {
    let at = 0
    while (at < s.length) {
      const left = this.#left[i]!
      if (left > 0) {
        const take = Math.min(left, s.length - at)
        let f = this.#frames[i]! + s.slice(at, at + take)
        at += take
        this.#left[i] = left - take === 0 ? -2 : left - take
        for (let end = f.indexOf('\n\n'); end >= 0; end = f.indexOf('\n\n')) {
          this.onFrame(i, f.slice(0, end))
          f = f.slice(end + 2)
        }
        this.#frames[i] = f
      } else if (left === -2) {
        // The CRLF after a chunk (it may come split across reads).
        const pending = this.#pending[i]!
        const p = pending + s.slice(at, at + 2 - pending.length)
        at += p.length - pending.length
        if (p.length < 2) this.#pending[i] = p
        else {
          this.#pending[i] = ''
          this.#left[i] = -1
        }
      } else {
        const pending = this.#pending[i]!
        const line = pending + s.slice(at)
        const end = line.indexOf('\r\n')
        if (end < 0) {
          this.#pending[i] = line
          return
        }
        at += end + 2 - pending.length
        this.#pending[i] = ''
        const size = Number.parseInt(line.slice(0, end), 16)
        // The last chunk: the response ends (the server closes the stream).
        if (size === 0) return
        this.#left[i] = size
      }
    }
  }
}
