/**
 * What clients prove to a coordinator that lost its state (a memory store
 * restarted, a Redis that came back empty): the signed messages their config
 * was built from, and the hard invalidations they applied lately. Every
 * message must carry this fleet's signature, from an epoch before this one:
 * a client can only hand back what a coordinator of this fleet sent. The
 * first proven config is adopted (clients that join later start from it, not
 * from nothing); each proven hard invalidation is rolled out again, under
 * its own id, so it stays hard for the clients it had not reached (and a
 * reset names it to those that come back later).
 */
import { z } from 'zod'
import { parseChange } from '../invalidation/change.js'
import type { Engine } from '../invalidation/engine.js'
import type { Change } from '../model/change.js'
import { configDigest, type SignedStreamMessage } from '../protocol/messages.js'
import { type SigningKeys, verifyMessage } from '../protocol/sign.js'

export const recallSchema = z.strictObject({
  /** The epoch the client followed before. */
  epoch: z.string().min(1).max(64),
  configDigest: z.string().max(64),
  config: z.array(z.unknown()).max(300).optional(),
  hard: z.array(z.unknown()).max(100).default([]),
})
export type RecallBody = z.infer<typeof recallSchema>

/**
 * The shape a proven message must have to be read: its signature says who
 * sent it, not that it is whole (a key signs whatever it is given, and the
 * dev key is public). Anything else is refused like a bad signature.
 */
const names = z.array(z.string())
const provenChange = z.object({
  id: z.string().min(1).max(200),
  kind: z.string(),
  values: z.record(z.string(), z.unknown()).optional(),
  unset: names.optional(),
})
const provenMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('config'), values: z.record(z.string(), z.unknown()) }),
  z.object({ type: z.literal('change'), change: provenChange }),
  z.object({ type: z.enum(['hello', 'reset']) }),
])

/** A hard invalidation the engine can roll out again (its change parses as one), or undefined. */
const hardInvalidation = (m: SignedStreamMessage | undefined): Change | undefined => {
  if (m?.type !== 'change' || m.change.kind !== 'invalidate' || m.change.mode !== 'hard') return
  try {
    const { kind, target, mode, priority, reason } = m.change
    parseChange({ kind, target, mode, priority, ...(reason !== undefined && { reason }) })
    return m.change
  } catch {
    return undefined
  }
}

/** Hard invalidations recovered, named in resets (the most recent kept). */
const MAX_RECOVERED = 100

export interface RecallOutcome {
  /** The config was adopted from this client's proof. */
  readonly adopted: boolean
  /** Hard invalidations rolled out again (new ones only). */
  readonly recovered: readonly string[]
  /** Messages that did not verify (counted, ignored). */
  readonly refused: number
}

export class Recall {
  readonly #recovered = new Map<string, Change>()
  /** Clients heard in this epoch: each is heard once (a client token cannot make it work again and again). */
  #heard = new Set<string>()
  #heardIn: string | undefined

  constructor(
    private readonly o: {
      readonly fleet: string
      readonly keys: SigningKeys
      /** This coordinator's epoch now. */
      readonly epoch: () => string
    },
  ) {}

  /** Hard invalidations recovered so far, for the resets of clients that come back. */
  hard(): { id: string; target: NonNullable<Change['target']> }[] {
    return [...this.#recovered.values()].map((c) => ({ id: c.id, target: c.target! }))
  }

  receive(engine: Engine, clientId: string, body: RecallBody): RecallOutcome {
    const now = this.o.epoch()
    if (this.#heardIn !== now) {
      this.#heardIn = now
      this.#heard = new Set()
    }
    if (body.epoch === now || this.#heard.has(clientId))
      return { adopted: false, recovered: [], refused: 0 }
    this.#heard.add(clientId)
    let refused = 0
    // Only messages this fleet signed, of an epoch before this one.
    const proven = (raw: unknown): SignedStreamMessage | undefined => {
      const v = verifyMessage<SignedStreamMessage>(raw, this.o.keys)
      if (
        v.ok &&
        v.message.fleet === this.o.fleet &&
        typeof v.message.epoch === 'string' &&
        v.message.epoch !== now &&
        provenMessage.safeParse(v.message).success
      )
        return v.message
      refused++
      return undefined
    }
    let adopted = false
    const values = body.config && this.#replay(body.config.map(proven))
    // The chain must add up to what the client says it runs.
    if (values && configDigest(values) === body.configDigest)
      adopted = engine.adoptConfig(values) !== undefined
    const recovered: string[] = []
    for (const raw of body.hard) {
      const m = proven(raw)
      const change = hardInvalidation(m)
      if (!change) {
        if (m) refused++
        continue
      }
      if (this.#recovered.has(change.id)) continue
      const { created } = engine.recover(change)
      this.#recovered.set(change.id, change)
      if (this.#recovered.size > MAX_RECOVERED)
        this.#recovered.delete(this.#recovered.keys().next().value!)
      if (created) recovered.push(change.id)
    }
    return { adopted, recovered, refused }
  }

  /** Config values from a snapshot and the config changes after it, all proven; else undefined. */
  #replay(chain: (SignedStreamMessage | undefined)[]): Record<string, unknown> | undefined {
    const [first, ...rest] = chain
    if (first?.type !== 'config') return undefined
    let values: Record<string, unknown> = { ...first.values }
    for (const m of rest) {
      if (m?.type !== 'change' || m.change.kind !== 'config') return undefined
      values = { ...values, ...m.change.values }
      for (const k of m.change.unset ?? []) delete values[k]
    }
    return values
  }
}
