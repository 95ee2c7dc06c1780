/**
 * The SDK's own defences, independent of the coordinator: a message is
 * applied only if it is well-formed, signed with a key we hold, for our
 * fleet, newer than the last one applied (replays change nothing), and its
 * change not applied before (exactly once). Refusals are counted by reason.
 */
import type { Change } from '../invalidation/change.js'
import {
  changeDigest,
  type RejectReason,
  type RewarmReport,
  type RewarmResume,
  type RewarmResumeEntry,
  rewarmReportSchema,
  type SignedStreamMessage,
} from '../protocol/messages.js'
import { type SigningKeys, verifyMessage } from '../protocol/sign.js'

/** A checkpoint to continue from; `change` only when the rewarm is unfinished. */
export interface Resume {
  readonly changeId: string
  readonly checkpoint: RewarmReport
  readonly change?: Change
}

export type Verdict =
  | { ok: true; message: SignedStreamMessage }
  | { ok: false; reason: RejectReason }

/** Change ids remembered for exactly-once apply. */
const REMEMBER = 10_000

export class Guard {
  lastSeq: number | undefined
  readonly #applied = new Set<string>()
  readonly #rejected = new Map<RejectReason, number>()
  #unreported = new Map<RejectReason, number>()

  constructor(
    private readonly keys: SigningKeys,
    private readonly fleet: string | undefined,
  ) {}

  /** Check one stream event's data. Does not mark anything applied. */
  check(data: string): Verdict {
    let parsed: unknown
    try {
      parsed = JSON.parse(data)
    } catch {
      return this.#reject('malformed')
    }
    const v = verifyMessage<SignedStreamMessage>(parsed, this.keys)
    if (!v.ok) return this.#reject(v.reason)
    const m = v.message
    if (typeof m.seq !== 'number' || !Number.isSafeInteger(m.seq) || typeof m.type !== 'string') {
      return this.#reject('malformed')
    }
    if (this.fleet !== undefined && m.fleet !== this.fleet) return this.#reject('wrong-fleet')
    if (this.lastSeq !== undefined && m.seq <= this.lastSeq) return this.#reject('replayed')
    if (m.type === 'change' && this.#applied.has(m.change.id)) return this.#reject('replayed')
    return { ok: true, message: m }
  }

  /**
   * Check one rewarm checkpoint handed back at a restart: signed with a key
   * we hold, for our fleet, this client and the nonce we asked with (so not
   * an old answer replayed), a well-formed checkpoint, and the change beside
   * it (an unfinished rewarm's) the one signed for, its total its key count.
   * (The change may come on the stream too, replayed: the client takes a
   * rewarm up once, by change id.)
   */
  checkResume(
    entry: unknown,
    clientId: string,
    nonce: string,
  ): { ok: true; resume: Resume } | { ok: false; reason: RejectReason } {
    const e = (entry ?? {}) as Partial<RewarmResumeEntry>
    const v = verifyMessage<RewarmResume>(e.signed, this.keys)
    if (!v.ok) return this.#reject(v.reason)
    const m = v.message
    const checkpoint = rewarmReportSchema.safeParse(m.checkpoint)
    if (m.type !== 'rewarm-resume' || typeof m.changeId !== 'string' || !checkpoint.success)
      return this.#reject('malformed')
    if (this.fleet !== undefined && m.fleet !== this.fleet) return this.#reject('wrong-fleet')
    if (m.clientId !== clientId || m.nonce !== nonce) return this.#reject('replayed')
    const change = e.change
    if (change === undefined)
      return { ok: true, resume: { changeId: m.changeId, checkpoint: checkpoint.data } }
    let digest: string
    try {
      digest = changeDigest(change)
    } catch {
      return this.#reject('malformed')
    }
    if (digest !== m.digest) return this.#reject('bad-signature')
    if (
      change.id !== m.changeId ||
      change.kind !== 'rewarm' ||
      !Array.isArray(change.target?.keys) ||
      change.target.keys.length !== checkpoint.data.total
    )
      return this.#reject('malformed')
    return { ok: true, resume: { changeId: m.changeId, checkpoint: checkpoint.data, change } }
  }

  /** Record a message as applied: its seq becomes the resume point. */
  applied(m: SignedStreamMessage): void {
    this.lastSeq = m.seq
    if (m.type === 'change') {
      this.#applied.add(m.change.id)
      if (this.#applied.size > REMEMBER) this.#applied.delete(this.#applied.values().next().value!)
    }
  }

  /** Refusals so far, by reason. */
  get rejected(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#rejected)
  }

  /** Refusals since the last call (for the heartbeat). */
  takeUnreported(): Partial<Record<RejectReason, number>> {
    const out = Object.fromEntries(this.#unreported)
    this.#unreported = new Map()
    return out
  }

  /** Refusals taken for a heartbeat that did not get through: counted again in the next. */
  giveBack(counts: Partial<Record<RejectReason, number>>): void {
    for (const [reason, n] of Object.entries(counts) as [RejectReason, number][])
      this.#unreported.set(reason, (this.#unreported.get(reason) ?? 0) + n)
  }

  #reject(reason: RejectReason): { ok: false; reason: RejectReason } {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1)
    this.#unreported.set(reason, (this.#unreported.get(reason) ?? 0) + 1)
    return { ok: false, reason }
  }
}
