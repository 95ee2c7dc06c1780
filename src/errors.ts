/**
 * Every error slew raises, in one place, each with a stable `code` (the
 * codes, their HTTP statuses and meanings: error-codes.ts). The coordinator
 * turns these into problem+json; the CLI into exit code 2.
 */

import type { ErrorCode } from './error-codes.js'

export { type ErrorCode, errorCodes } from './error-codes.js'

export class SlewError extends Error {
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>>

  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.details = Object.freeze({ ...details })
  }

  toJSON() {
    return { code: this.code, message: this.message, ...this.details }
  }
}

const show = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  try {
    const json = JSON.stringify(value)
    return json.length > 80 ? `${json.slice(0, 77)}...` : json
  } catch {
    return String(value)
  }
}

const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value

/**
 * A bad option or input: names the field, the rule and what it got. `issues`
 * holds every broken rule found (the first is field/rule/value); when there
 * were several, they are also in `details` (and so in problem+json).
 */
export class InvalidOptionError extends SlewError {
  readonly issues: readonly OptionIssue[]

  constructor(
    readonly field: string,
    readonly rule: string,
    readonly value: unknown,
    issues: readonly OptionIssue[] = [{ field, rule, value }],
  ) {
    super('E_INVALID_OPTION', describeIssue({ field, rule, value }), {
      field,
      rule,
      value,
      ...(issues.length > 1 && { issues }),
    })
    this.issues = Object.freeze([...issues])
  }
}

export class UnknownFlagError extends SlewError {
  constructor(readonly flag: string) {
    super('E_UNKNOWN_FLAG', `Unknown flag \`${flag}\``, { field: flag, rule: 'a known flag' })
  }
}

export class IllegalTransitionError extends SlewError {
  constructor(
    readonly rolloutId: string,
    readonly from: string,
    readonly to: string,
  ) {
    super('E_ILLEGAL_TRANSITION', `Rollout ${rolloutId} cannot go from \`${from}\` to \`${to}\``, {
      rolloutId,
      from,
      to,
    })
  }
}

export class UnknownRolloutError extends SlewError {
  constructor(readonly rolloutId: string) {
    super('E_UNKNOWN_ROLLOUT', `No rollout with id \`${rolloutId}\``, { rolloutId })
  }
}

export class NotConfigChangeError extends SlewError {
  constructor(
    readonly rolloutId: string,
    readonly kind: string,
  ) {
    super(
      'E_NOT_CONFIG_CHANGE',
      `Rollout ${rolloutId} is a \`${kind}\` change; only config changes can be rolled back`,
      { rolloutId, kind },
    )
  }
}

export class SnapshotError extends SlewError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('E_SNAPSHOT_INVALID', `Cannot restore engine snapshot: ${reason}`, { reason }, options)
  }
}

export class ClosedError extends SlewError {
  constructor(what: string) {
    super('E_CLOSED', `${what} is closed`, { what })
  }
}

/**
 * The coordinator answered with an error (problem+json): `status`, the
 * server's own `problemCode` (E_UNAUTHORIZED, E_OVERLOADED, …) and the problem.
 */
export class HttpError extends SlewError {
  constructor(
    readonly status: number,
    readonly problemCode: string,
    message: string,
    readonly problem: Readonly<Record<string, unknown>> = {},
  ) {
    super('E_HTTP', message, { status, problemCode })
  }

  /** Worth retrying later: overload and server errors, not bad requests or auth. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500
  }
}

export class NotConnectedError extends SlewError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('E_NOT_CONNECTED', `Not connected to the coordinator: ${reason}`, { reason }, options)
  }
}

/**
 * A write under a fencing token that is no longer current, or for state of an
 * epoch the store no longer holds (it lost its state: tokens start again
 * there, epochs do not): this replica is not the leader any more.
 */
export class FencedError extends SlewError {
  constructor(
    readonly fence: number,
    readonly current: number,
    readonly epochs?: { readonly mine: string; readonly current: string | undefined },
  ) {
    super(
      'E_FENCED',
      epochs
        ? `Epoch ${epochs.mine} is gone from the store (now: ${epochs.current ?? 'none'}); not the leader any more`
        : `Fencing token ${fence} is stale (current: ${current}); not the leader any more`,
      {
        fence,
        current,
        ...(epochs && { epoch: epochs.mine, currentEpoch: epochs.current ?? null }),
      },
    )
  }
}

/** The store (Redis) could not be reached or answered with an error; nothing was changed. */
export class StoreUnavailableError extends SlewError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('E_STORE_UNAVAILABLE', `The store is unavailable: ${reason}`, { reason }, options)
  }
}

/** A reader's refetch found no token within its wait limit and was shed (the SDK's onOverBudget: 'fail'). */
export class OverBudgetError extends SlewError {
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super('E_OVER_BUDGET', `No refetch token for \`${key}\` within ${waitedMs} ms: shed`, {
      key,
      waitedMs,
    })
  }
}

/** The client was told to serve one fleet and the coordinator serves another: nothing would ever apply. */
export class WrongFleetError extends SlewError {
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super(
      'E_WRONG_FLEET',
      `This client is for fleet \`${expected}\` but the coordinator serves fleet \`${got}\`: set the SDK's \`fleet\` option to \`${got}\` (or leave it out to take the coordinator's), or point it at the right coordinator`,
      { expected, got },
    )
  }
}

/** The client keeps refusing well-formed stream messages for one reason: changes are not reaching its cache. */
export class RefusingError extends SlewError {
  constructor(
    readonly reason: string,
    readonly count: number,
  ) {
    super(
      'E_REFUSING',
      `Refused ${count} stream messages in a row (${reason}): changes are not being applied`,
      { reason, count },
    )
  }
}

/** The listen address is taken by another process. */
export class AddressInUseError extends SlewError {
  constructor(
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(
      'E_ADDRESS_IN_USE',
      `${host}:${port} is already in use by another process: stop it, or pick another port (--port N, or 0 for any free one)`,
      { host, port },
      options,
    )
  }
}

/**
 * A push reused an idempotency key with another change: a key names one
 * request, so the push is refused (the first change stands), not folded
 * into a rollout it does not describe.
 */
export class IdempotencyConflictError extends SlewError {
  constructor(
    readonly idempotencyKey: string,
    readonly rolloutId: string,
  ) {
    super(
      'E_IDEMPOTENCY_CONFLICT',
      `Idempotency key \`${idempotencyKey}\` was used for another change (${rolloutId}): use a new key for a new change`,
      { idempotencyKey, rolloutId },
    )
  }
}

/** A config change would take the fleet's config values over their size limit; nothing changed. */
export class ConfigTooLargeError extends SlewError {
  constructor(
    readonly bytes: number,
    readonly limitBytes: number,
    readonly currentBytes: number,
  ) {
    super(
      'E_CONFIG_TOO_LARGE',
      `The fleet's config values would be ${bytes} bytes, over the limit of ${limitBytes} (now ${currentBytes}): unset keys you no longer need, or raise limits.configBytes`,
      { bytes, limitBytes, currentBytes },
    )
  }
}

/** One broken rule: the field (a path such as `budgets.invalidate.ratePerSec`), the rule and what it got. */
export interface OptionIssue {
  readonly field: string
  readonly rule: string
  readonly value: unknown
}

/** "Expected `field` to be rule, got `value` (type)": one issue as it reads in a message. */
export const describeIssue = ({ field, rule, value }: OptionIssue): string =>
  `Expected \`${field}\` to be ${rule}, got \`${show(value)}\` (${typeOf(value)})`

/**
 * Several broken rules at once (E_INVALID_OPTION): the message lists each on
 * its own line; field/rule/value are the first, `issues` all of them.
 */
export class InvalidOptionsError extends InvalidOptionError {
  constructor(issues: readonly [OptionIssue, OptionIssue, ...OptionIssue[]]) {
    const [first] = issues
    super(first.field, first.rule, first.value, issues)
    this.message = [
      `${issues.length} broken rules:`,
      ...issues.map((issue) => `  ${describeIssue(issue)}`),
    ].join('\n')
  }
}

/** Every issue in one error: the single-rule message for one, the list for several. */
export const invalidOptions = (issues: readonly OptionIssue[]): InvalidOptionError => {
  const [first, second, ...rest] = issues
  if (!first) throw new RangeError('invalidOptions() needs at least one issue')
  return second
    ? new InvalidOptionsError([first, second, ...rest])
    : new InvalidOptionError(first.field, first.rule, first.value)
}
