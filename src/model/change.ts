/**
 * A change and what it targets, as every layer names them: the engine rolls
 * it out, the wire carries it, the SDK applies it. The engine's zod schemas
 * (invalidation/change.ts) produce exactly these shapes.
 */

/** What a change does: drop entries, fetch entries ahead of readers, or set config values. */
export const changeKinds = ['invalidate', 'rewarm', 'config'] as const
export type ChangeKind = (typeof changeKinds)[number]

/** Which entries a change touches: at least one of the fields is set. */
export interface Target {
  keys?: string[]
  tags?: string[]
  prefixes?: string[]
  all?: boolean
  hotSet?: boolean
}

/** A change with its identity, as delivered to clients. */
export interface Change {
  readonly id: string
  /** Position in the fleet's change log; increases by one per accepted change. */
  readonly seq: number
  readonly kind: ChangeKind
  readonly target?: Target
  readonly values?: Readonly<Record<string, unknown>>
  readonly unset?: readonly string[]
  readonly mode: 'soft' | 'hard'
  readonly priority: 'normal' | 'urgent'
  readonly reason?: string
  readonly submittedAt: number
  /** For a rollback: the change it undoes. */
  readonly rollbackOf?: string
}
