/**
 * What a client asks of, and tells, a coordinator after a restart on either
 * side: its rewarm checkpoints (readResumes, signed for it and a nonce), and
 * to a coordinator of a new epoch, the proofs of what it applied in the one
 * before (recall), tried again with backoff while the answer is retryable.
 */
import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { HttpError } from '../errors.js'
import type { Clock, Timer } from '../model/clock.js'
import { Backoff } from './backoff.js'
import type { Guard, Resume } from './guard.js'
import { getJson, postJson, type Remote } from './http.js'
import type { ParsedClientOptions, SlewClientEvents } from './options.js'
import type { Witness } from './witness.js'

/** How long a client keeps trying to hand its proofs to a coordinator of a new epoch. */
const RECALL_FOR_MS = 60_000

export interface RecallParts {
  readonly options: Readonly<ParsedClientOptions>
  readonly remote: Remote
  readonly clock: Clock
  readonly random: () => number
  readonly guard: Guard
  readonly witness: Witness
  readonly events: EventEmitter<SlewClientEvents>
  /** Waits between tries: the client cancels them on close(), so nothing outlives it. */
  readonly waits: Set<Timer>
  readonly closed: () => boolean
  readonly report: (error: unknown) => void
}

/**
 * Tell a coordinator whose epoch is new what we can prove of the one
 * before. Right after its store lost its state it may lead nothing yet
 * (503): tried again with backoff while the answer is retryable, for
 * RECALL_FOR_MS at most, and not once the epoch has moved on again.
 */
export async function recall(p: RecallParts, epoch: string): Promise<void> {
  const now = p.guard.epoch
  const until = p.clock.now() + RECALL_FOR_MS
  const backoff = new Backoff(
    { baseMs: 250, capMs: 5000, resetAfterMs: Number.POSITIVE_INFINITY },
    p.random,
  )
  for (;;) {
    try {
      await postJson(
        p.remote,
        `/v1/clients/${encodeURIComponent(p.options.clientId)}/recall`,
        p.witness.recall(epoch),
      )
      return
    } catch (error) {
      const again = !(error instanceof HttpError) || error.retryable
      const wait = backoff.next()
      if (p.closed() || p.guard.epoch !== now || !again || p.clock.now() + wait > until) {
        if (!p.closed()) p.report(error)
        return
      }
      await new Promise<void>((resolve) => {
        const t = p.clock.setTimer(wait, () => {
          p.waits.delete(t)
          resolve()
        })
        p.waits.add(t)
      })
    }
  }
}

/** This client's rewarm checkpoints, signed for it and a fresh nonce, checked. */
export async function readResumes(p: RecallParts, signal: AbortSignal): Promise<Resume[]> {
  const id = p.options.clientId
  const nonce = randomBytes(12).toString('base64url')
  const resumes: Resume[] = []
  try {
    const { rewarms } = await getJson<{ rewarms: unknown[] }>(
      p.remote,
      `/v1/clients/${encodeURIComponent(id)}/rewarms?nonce=${nonce}`,
      { signal },
    )
    for (const entry of Array.isArray(rewarms) ? rewarms : []) {
      const v = p.guard.checkResume(entry, id, nonce)
      if (v.ok) resumes.push(v.resume)
      else p.events.emit('rejected', v.reason)
    }
  } catch (error) {
    if (!p.closed()) p.report(error)
    throw error // read again shortly
  }
  return resumes
}
