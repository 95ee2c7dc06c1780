/**
 * The leader's write-ahead: what the engine does in one turn of the event
 * loop becomes one fenced, all-or-nothing commit — the deliveries as signed
 * log entries, the delivered sets, the touched rollouts' summaries, buckets
 * and counters. A delivery exists once its log entry is committed: that is
 * what every replica streams to its clients. Commits run one after another,
 * each only under the leader's fencing token and in the epoch its engine
 * began in; the first that fails stops the leader (it rebuilds from the
 * store later).
 */
import type { Engine } from '../../invalidation/engine.js'
import type { Delivery } from '../../invalidation/pacer.js'
import { budgetClassOf } from '../../model/budget.js'
import type { Change } from '../../model/change.js'
import { configDigest } from '../../protocol/messages.js'
import type { StateOp, Store } from '../../store/store.js'
import { type Signer, signFor } from '../log.js'
import type { ClientRecord } from './client-records.js'
import { STATE } from './restore.js'

export interface LogMeta {
  readonly type: 'change'
  /** The epoch it was signed in (a replica that sees another knows the store's state was lost). */
  readonly epoch: string
  readonly changeId: string
  readonly cls: string
  readonly wave: number
  /** Engine time of the delivery (for checking B1 from the log). */
  readonly at: number
  readonly cost: number
}

export type SignableMessage =
  | { type: 'change'; seq: number; change: Change }
  | { type: 'config'; seq: number; values: Readonly<Record<string, unknown>> }
  | { type: 'reset'; seq: number; reason: string }

/** A stream message, signed once, as the JSON that goes on the wire. */
export const signToJson = (signer: Signer, message: SignableMessage): string =>
  JSON.stringify(signFor(signer, message))

export interface PersisterOptions {
  readonly store: Store
  readonly fence: number
  /** The epoch the engine's state belongs to: commits land only while it is the store's. */
  readonly epoch: string
  readonly signer: Signer
  readonly logMaxLength: number
  /** The next log sequence number must exceed this. */
  readonly lastSeq: number
  /** The wall clock, ms (sequence numbers start from it). */
  readonly now: () => number
  /** Called once, with the error of the first commit that fails. */
  readonly failed: (error: unknown) => void
}

export class Persister {
  engine: Engine | undefined
  #ops: StateOp[] = []
  readonly #touched = new Set<string>()
  /** Client records to save with the next commit: the latest of each. */
  readonly #clients = new Map<string, ClientRecord>()
  #scheduled = false
  #chain: Promise<void> = Promise.resolve()
  #failure: unknown
  #seq: number
  /** The stable config values whose digest the store holds (the engine hands out one object per version). */
  #stable: unknown

  constructor(private readonly o: PersisterOptions) {
    this.#seq = o.lastSeq
  }

  /** A log sequence number: after the last, and from the wall clock (ms × 1000). */
  nextSeq(): number {
    this.#seq = Math.max(this.#seq + 1, Math.floor(this.o.now()) * 1000)
    return this.#seq
  }

  deliver(d: Delivery): number {
    const seq = this.nextSeq()
    const message = this.sign({ type: 'change', seq, change: d.change })
    const meta: LogMeta = {
      type: 'change',
      epoch: this.o.epoch,
      changeId: d.change.id,
      cls: budgetClassOf(d.change),
      wave: d.wave,
      at: d.at,
      cost: d.cost,
    }
    this.#ops.push(
      { op: 'log', seq, to: d.clientIds, message, meta: JSON.stringify(meta) },
      { op: 'add', set: STATE.delivered(d.change.id), members: d.clientIds },
    )
    this.touch(d.change.id)
    return seq
  }

  sign(message: SignableMessage): string {
    // In the engine's epoch, whatever the signer has moved on to since.
    return signToJson({ ...this.o.signer, epoch: this.o.epoch }, message)
  }

  /** A rollout changed: save its summary with the next commit. */
  touch(rolloutId: string): void {
    this.#touched.add(rolloutId)
    this.#schedule()
  }

  /** A client's record changed: save its latest with the next commit. */
  client(id: string, record: ClientRecord): void {
    this.#clients.set(id, record)
    this.#schedule()
  }

  set(field: string, value: string): void {
    this.#ops.push({ op: 'set', field, value })
    this.#schedule()
  }

  /** Resolves once everything done so far is committed; rejects if a commit failed. */
  async durable(): Promise<void> {
    this.#flush()
    await this.#chain
    if (this.#failure) throw this.#failure
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(() => this.#flush())
  }

  #flush(): void {
    this.#scheduled = false
    if (this.#failure || !this.engine) return
    const ops = this.#ops
    this.#ops = []
    for (const id of this.#touched) {
      try {
        ops.push({
          op: 'set',
          field: STATE.rollout(id),
          value: JSON.stringify(this.engine.rolloutSummary(id)),
        })
      } catch {
        // Pruned: it no longer needs keeping.
        ops.push(
          { op: 'del', field: STATE.rollout(id) },
          { op: 'drop', set: STATE.delivered(id) },
          { op: 'del', field: STATE.gate(id) },
        )
      }
    }
    this.#touched.clear()
    for (const [id, record] of this.#clients)
      ops.push({ op: 'set', field: STATE.client(id), value: JSON.stringify(record) })
    this.#clients.clear()
    // A config adopted from the fleet changes the head with no rollout touched: it is written too.
    const stable = this.engine.stableConfigValues
    if (ops.length === 0 && stable === this.#stable) return
    ops.push({ op: 'set', field: STATE.head, value: JSON.stringify(this.engine.snapshotHead()) })
    // Beside the head, the stable config's digest, once per version: replicas re-read the
    // values (and sign a new client's frame) only when it changes.
    if (stable !== this.#stable) {
      this.#stable = stable
      ops.push({ op: 'set', field: STATE.stableDigest, value: configDigest(stable) })
    }
    const { store, fence, logMaxLength, epoch } = this.o
    this.#chain = this.#chain.then(async () => {
      if (this.#failure) return
      try {
        await store.commit(fence, ops, logMaxLength, epoch)
      } catch (error) {
        this.#failure = error
        this.o.failed(error)
      }
    })
  }
}
