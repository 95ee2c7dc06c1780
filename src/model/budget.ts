/**
 * Budgets and the classes they are kept in: each change spends its class's
 * budget (B1), each refetch a token of its class (B2). A budget is a rate
 * and a burst; the schemas here are its two readings, as configured and as a
 * bucket (or a lease's terms on the wire) runs on it.
 */
import { z } from 'zod'
import { between, positive } from '../validate.js'
import type { Change, ChangeKind } from './change.js'

export const budgetClasses = ['invalidate', 'rewarm', 'config', 'urgent'] as const
export type BudgetClass = (typeof budgetClasses)[number]

/** The classes refetch tokens are leased in: a config change refetches nothing. */
export const tokenClasses = ['invalidate', 'rewarm', 'urgent'] as const
export type TokenClass = (typeof tokenClasses)[number]

/** A change's class: urgent if it is urgent, else its kind (so a cache change's is a TokenClass). */
export const budgetClassOf = <K extends ChangeKind>(
  c: Pick<Change, 'priority'> & { readonly kind: K },
): K | 'urgent' => (c.priority === 'urgent' ? 'urgent' : c.kind)

/**
 * What a bucket runs on: any finite rate > 0 (a client's share of a budget,
 * rate ÷ fleet size, can be tiny) and a burst of whole units at least (a
 * lease grants whole tokens, so a burst below 1 could never grant one).
 */
export const bucketParamsSchema = z.strictObject({
  ratePerSec: positive(),
  burst: z
    .number({ error: 'a finite number >= 1' })
    .refine((n) => Number.isFinite(n) && n >= 1, { error: 'a finite number >= 1' }),
})

/**
 * A budget as configured: a rate in [0.001, 1e9] per second (one unit in
 * 1,000 s at least: slower, and every delay and Retry-After it implies
 * overflows a timer) and a burst in [1, 1e9].
 */
export const budgetSchema = z.strictObject({
  ratePerSec: between(0.001, 1e9),
  burst: between(1, 1e9),
})
export type BudgetOptions = z.infer<typeof budgetSchema>
