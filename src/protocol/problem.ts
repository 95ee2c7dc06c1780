/**
 * Errors on the wire: RFC 9457 problem+json, built from the registered
 * error codes (src/error-codes.ts), each with its HTTP status.
 */
import { type ErrorCode, httpStatus } from '../error-codes.js'

export const PROBLEM_TYPE = 'application/problem+json'

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly code: ErrorCode
  readonly detail?: string
  readonly [extra: string]: unknown
}

/** A problem of a registered `code`, answered with that code's HTTP status. */
export const problem = (
  code: ErrorCode,
  title: string,
  extra: Record<string, unknown> = {},
): Problem => ({
  type: `urn:slew:error:${code}`,
  title,
  status: httpStatus[code],
  code,
  ...extra,
})
