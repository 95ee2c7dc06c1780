/**
 * What a client can prove to a coordinator that lost its state (a memory
 * store restarted, a Redis that came back empty): the signed messages its
 * config was built from — the last config snapshot and every config change
 * applied since — and the hard invalidations it applied lately. Sent once
 * when a hello brings a new epoch; the coordinator checks every signature,
 * adopts the config (instead of handing new clients nothing) and rolls the
 * hard invalidations out again to the clients they had not reached.
 */
import { configDigest, type SignedStreamMessage } from '../protocol/messages.js'

/** Config changes kept after the snapshot; past this the proof is dropped (only the digest is told). */
const MAX_CONFIG_PROOF = 256
/** Hard invalidations kept, and for how long after they were applied. */
const MAX_HARD = 100
const HARD_KEPT_MS = 10 * 60_000

export interface Recall {
  /** The epoch the client followed before. */
  readonly epoch: string
  readonly configDigest: string
  /** The config snapshot and the config changes after it, as signed; absent when it cannot prove them. */
  readonly config?: readonly unknown[]
  /** Hard invalidations applied in the last 10 minutes, as signed. */
  readonly hard: readonly unknown[]
}

export class Witness {
  #config: unknown[] | undefined
  #hard: { at: number; message: unknown }[] = []
  #values: Readonly<Record<string, unknown>> = {}
  #digest: string = configDigest({})

  constructor(private readonly now: () => number) {}

  /** configDigest() of the config values the client runs now. */
  get digest(): string {
    return this.#digest
  }

  /** A message was applied; `signed` is it as it came (parsed, signature and all). */
  applied(
    m: SignedStreamMessage,
    signed: unknown,
    values: Readonly<Record<string, unknown>>,
  ): void {
    if (m.type === 'config') {
      this.#config = [signed]
    } else if (m.type === 'change' && m.change.kind === 'config') {
      if (this.#config && this.#config.length <= MAX_CONFIG_PROOF) this.#config.push(signed)
      else this.#config = undefined
    } else if (m.type === 'change' && m.change.kind === 'invalidate' && m.change.mode === 'hard') {
      this.#hard.push({ at: this.now(), message: signed })
      this.#trim()
    }
    if (values !== this.#values) {
      this.#values = values
      this.#digest = configDigest(values)
    }
  }

  /** What to tell a coordinator of a new epoch about the one before. */
  recall(epoch: string): Recall {
    this.#trim()
    return {
      epoch,
      configDigest: this.#digest,
      ...(this.#config && { config: [...this.#config] }),
      hard: this.#hard.map((h) => h.message),
    }
  }

  #trim(): void {
    const since = this.now() - HARD_KEPT_MS
    while (this.#hard.length > 0 && (this.#hard.length > MAX_HARD || this.#hard[0]!.at < since))
      this.#hard.shift()
  }
}
