/**
 * Starting a replica whose store may not be reachable yet. The coordinator
 * binds and serves either way; while the store cannot be reached it says so
 * once — where (no password), why, and what it does meanwhile — answers
 * /readyz and the API with 503, keeps trying with backoff, and says when it
 * got there. No client library internals, no stack: an operator reads what
 * to fix.
 */

export interface ReachOptions {
  /** The store, as messages name it (a URL without its password). */
  readonly where: string
  /** One try: connect and start; throws if the store cannot be reached. */
  readonly start: () => Promise<void>
  readonly notice: (line: string) => void
  readonly closed: () => boolean
  /** How long the caller waits for the first try before going on (a host that drops packets answers late). */
  readonly firstWaitMs: number
  readonly random?: () => number
}

/** Backoff between tries: doubling from 250 ms to 5 s, jittered (half to all of it). */
export const reachBackoffMs = (attempt: number, random: () => number): number =>
  Math.min(5000, 250 * 2 ** Math.min(attempt, 5)) * (0.5 + random() / 2)

/** What went wrong, without the wrapping each layer adds (`The store is unavailable: cannot reach X: `). */
const reasonOf = (error: unknown, where: string): string => {
  let m = error instanceof Error ? error.message : String(error)
  m = m.replace(/^The store is unavailable: /, '')
  if (m.startsWith(`cannot reach ${where}: `)) m = m.slice(`cannot reach ${where}: `.length)
  return m
}

/**
 * Start trying. `first` resolves after the first try (started or not), or
 * after `firstWaitMs`, whichever comes first; `started` once the replica
 * started (never, if closed before).
 */
export const reach = (o: ReachOptions): { first: Promise<void>; started: Promise<void> } => {
  const random = o.random ?? Math.random
  let told = false
  const tell = (reason: string) => {
    if (told) return
    told = true
    o.notice(`slew: cannot reach ${o.where} (retrying): ${reason}`)
    o.notice(
      'slew: meanwhile /readyz answers 503 and so do the API and new streams (E_STORE_UNAVAILABLE)',
    )
  }
  let firstDone: () => void = () => {}
  const firstTry = new Promise<void>((resolve) => {
    firstDone = resolve
  })
  const started = (async () => {
    for (let attempt = 0; !o.closed(); attempt++) {
      try {
        await o.start()
        if (o.closed()) return
        if (told) o.notice(`slew: connected to ${o.where}`)
        return
      } catch (error) {
        if (o.closed()) return
        tell(reasonOf(error, o.where))
      } finally {
        firstDone()
      }
      await new Promise((r) => setTimeout(r, reachBackoffMs(attempt, random)))
    }
  })()
  let timer: NodeJS.Timeout | undefined
  const first = Promise.race([
    firstTry,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        tell(`no answer within ${o.firstWaitMs} ms`)
        resolve()
      }, o.firstWaitMs)
    }),
  ]).finally(() => clearTimeout(timer))
  return { first, started }
}
