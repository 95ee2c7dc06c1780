/**
 * The SDK's own defences, independent of the coordinator: a message is
 * applied only if it is well-formed, signed with a key we hold, for our
 * fleet, of the coordinator epoch we follow (learned from the signed hello
 * that opens each connection, which carries our nonce), newer than the last
 * one applied (replays change nothing), and its change not applied before
 * (exactly once; change ids are unique for good, so one never applied is
 * never refused). Refusals are counted by reason, and a run of them for one
 * reason makes the client say it refuses.
 */
import type { Change } from '../model/change.js'
import type { RewarmReport } from '../model/rewarm.js'
import {
  type ChangeMessage,
  changeDigest,
  MAX_REJECTED,
  type RejectReason,
  type RewarmResume,
  type RewarmResumeEntry,
  rewarmReportSchema,
  type SignedStreamMessage,
} from '../protocol/messages.js'
import { type SigningKeys, verifyMessage } from '../protocol/sign.js'
import { ApplyMemory } from './apply-memory.js'

/** A checkpoint to continue from; `change` only when the rewarm is unfinished. */
export interface Resume {
  readonly changeId: string
  readonly checkpoint: RewarmReport
  readonly change?: Change
}

export type Verdict =
  | { ok: true; message: SignedStreamMessage }
  /** A change applied before, sent again (a recovered rollout, a replica catching up): nothing to do. */
  | { ok: 'duplicate'; message: ChangeMessage }
  | { ok: false; reason: RejectReason; fleet?: string }

/** Refusals in a row, for one reason and nothing applied between, that make a client say it refuses. */
export const REFUSING_AFTER = 3

export class Guard {
  /** Epoch, resume point and change ids applied. */
  readonly memory = new ApplyMemory()
  /** The nonce this connection was opened with (its hello must carry it). */
  nonce: string | undefined
  #fleet: string | undefined
  readonly #rejected = new Map<RejectReason, number>()
  #unreported = new Map<RejectReason, number>()
  #streak: { reason: RejectReason; count: number } | undefined

  constructor(
    private readonly keys: SigningKeys,
    /** The fleet configured; undefined: the first hello's is taken. */
    fleet: string | undefined,
  ) {
    this.#fleet = fleet
  }

  /** The coordinator epoch the client follows: its sequence numbers count within it. */
  get epoch(): string | undefined {
    return this.memory.epoch
  }

  set epoch(epoch: string | undefined) {
    this.memory.epoch = epoch
  }

  get lastSeq(): number | undefined {
    return this.memory.lastSeq
  }

  set lastSeq(seq: number | undefined) {
    this.memory.lastSeq = seq
  }

  /** The fleet this client follows (configured, or learned from the coordinator). */
  get fleet(): string | undefined {
    return this.#fleet
  }

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
    if (
      typeof m.seq !== 'number' ||
      !Number.isSafeInteger(m.seq) ||
      typeof m.type !== 'string' ||
      typeof m.epoch !== 'string'
    ) {
      return this.#reject('malformed')
    }
    if (this.#fleet !== undefined && m.fleet !== this.#fleet) {
      return { ...this.#reject('wrong-fleet'), fleet: String(m.fleet) }
    }
    if (m.type === 'hello') {
      if (this.nonce !== undefined && m.nonce !== this.nonce) return this.#reject('replayed')
      return { ok: true, message: m }
    }
    // Sequence numbers count within an epoch: a message of any other is none of ours.
    const order = this.memory.check(
      m.epoch,
      m.seq,
      m.type === 'change' ? m.change.id : undefined,
      m.type === 'reset',
    )
    if (order === 'wrong-epoch' || order === 'replayed') return this.#reject(order)
    if (order === 'duplicate' && m.type === 'change') return { ok: 'duplicate', message: m }
    return { ok: true, message: m }
  }

  /**
   * Record a message as applied: its seq becomes the resume point. A hello
   * of a new epoch starts the count afresh (the coordinator's state was
   * lost: its numbers begin again); the change ids applied are kept, since
   * they are unique for good.
   */
  applied(m: SignedStreamMessage): void {
    this.#streak = undefined
    if (m.type === 'hello') {
      this.#fleet ??= m.fleet
      this.memory.hello(m.epoch)
    } else this.memory.applied(m.seq, m.type === 'change' ? m.change.id : undefined)
  }

  /**
   * The refusals in a row so far, once there are REFUSING_AFTER of them for
   * one reason with nothing applied between: changes are not reaching the cache.
   */
  get refusing(): { reason: RejectReason; count: number } | undefined {
    return this.#streak && this.#streak.count >= REFUSING_AFTER ? { ...this.#streak } : undefined
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
    if (this.#fleet !== undefined && m.fleet !== this.#fleet) return this.#reject('wrong-fleet')
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

  /** An event too large to read was refused (the stream cut before it was parsed). */
  oversized(): { ok: false; reason: RejectReason } {
    return this.#reject('oversized')
  }

  /** Refusals so far, by reason. */
  get rejected(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.#rejected)
  }

  /** Refusals since the last call (for the heartbeat), each at most what one heartbeat may carry. */
  takeUnreported(): Partial<Record<RejectReason, number>> {
    const out: Partial<Record<RejectReason, number>> = {}
    const rest = new Map<RejectReason, number>()
    for (const [reason, n] of this.#unreported) {
      out[reason] = Math.min(n, MAX_REJECTED)
      if (n > MAX_REJECTED) rest.set(reason, n - MAX_REJECTED)
    }
    this.#unreported = rest
    return out
  }

  /** Refusals taken for a heartbeat that did not get through: counted again in the next. */
  giveBack(counts: Partial<Record<RejectReason, number>>): void {
    for (const [reason, n] of Object.entries(counts) as [RejectReason, number][])
      this.#unreported.set(reason, (this.#unreported.get(reason) ?? 0) + n)
  }

  #reject(reason: RejectReason): { ok: false; reason: RejectReason } {
    this.#streak =
      this.#streak?.reason === reason
        ? { reason, count: this.#streak.count + 1 }
        : { reason, count: 1 }
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1)
    this.#unreported.set(reason, (this.#unreported.get(reason) ?? 0) + 1)
    return { ok: false, reason }
  }
}
