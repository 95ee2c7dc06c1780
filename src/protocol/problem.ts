/**
 * Errors on the wire: RFC 9457 problem+json, built from the same codes as
 * the errors in the code (src/errors.ts), plus the HTTP-only ones.
 */

export const PROBLEM_TYPE = 'application/problem+json'

export type HttpErrorCode =
  | 'E_BAD_JSON'
  | 'E_BODY_TOO_LARGE'
  | 'E_JSON_TOO_DEEP'
  | 'E_JSON_TOO_LARGE'
  | 'E_UNAUTHORIZED'
  | 'E_FORBIDDEN'
  | 'E_NOT_FOUND'
  | 'E_CONFIRM_REQUIRED'
  | 'E_OVERLOADED'
  | 'E_UNSUPPORTED_MEDIA_TYPE'
  | 'E_CONFIG_NEEDS_RESTART'
  | 'E_INTERNAL'

export const httpErrorCodes: Readonly<Record<HttpErrorCode, string>> = Object.freeze({
  E_BAD_JSON: 'the request body is not valid JSON',
  E_BODY_TOO_LARGE: 'the request body is over the size limit',
  E_JSON_TOO_DEEP: 'a JSON body (or a config value) is nested deeper than allowed',
  E_JSON_TOO_LARGE: 'a JSON body has more keys, or config values more keys or bytes, than allowed',
  E_UNAUTHORIZED: 'no bearer token, or not one the coordinator knows',
  E_FORBIDDEN: "the token lacks the route's scope",
  E_NOT_FOUND: 'no such route or resource',
  E_CONFIRM_REQUIRED:
    'a change over `confirmAbove` of the fleet needs `"confirm": true` and a `reason`',
  E_OVERLOADED: 'admission refused a new stream; come back after `Retry-After`',
  E_UNSUPPORTED_MEDIA_TYPE: 'the body must be application/json',
  E_CONFIG_NEEDS_RESTART: 'that part of the config only changes with a restart',
  E_INTERNAL: 'the coordinator failed; nothing was changed',
})

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly code: string
  readonly detail?: string
  readonly [extra: string]: unknown
}

export const problem = (
  status: number,
  code: string,
  title: string,
  extra: Record<string, unknown> = {},
): Problem => ({
  type: `urn:slew:error:${code}`,
  title,
  status,
  code,
  ...extra,
})
