/**
 * The registry of error codes: every code slew raises (the classes in
 * errors.ts) or answers over HTTP (problem+json), what each means, and the
 * HTTP status each is answered with. A test checks the README documents
 * every one (and, for the HTTP-only codes, its status).
 */

/** Codes of the errors slew raises (src/errors.ts). */
export const raisedCodes = [
  'E_INVALID_OPTION',
  'E_UNKNOWN_FLAG',
  'E_ILLEGAL_TRANSITION',
  'E_UNKNOWN_ROLLOUT',
  'E_NOT_CONFIG_CHANGE',
  'E_SNAPSHOT_INVALID',
  'E_CLOSED',
  'E_HTTP',
  'E_NOT_CONNECTED',
  'E_FENCED',
  'E_OVER_BUDGET',
  'E_STORE_UNAVAILABLE',
  'E_WRONG_FLEET',
  'E_REFUSING',
  'E_ADDRESS_IN_USE',
  'E_IDEMPOTENCY_CONFLICT',
  'E_CONFIG_TOO_LARGE',
] as const

/** Codes only the coordinator's HTTP layer answers with: no error class raises them. */
export const httpOnlyCodes = [
  'E_BAD_JSON',
  'E_BODY_TOO_LARGE',
  'E_JSON_TOO_DEEP',
  'E_JSON_TOO_LARGE',
  'E_UNAUTHORIZED',
  'E_FORBIDDEN',
  'E_NOT_FOUND',
  'E_CONFIRM_REQUIRED',
  'E_OVERLOADED',
  'E_UNSUPPORTED_MEDIA_TYPE',
  'E_CONFIG_NEEDS_RESTART',
  'E_INTERNAL',
] as const

export type ErrorCode = (typeof raisedCodes)[number] | (typeof httpOnlyCodes)[number]

/** Codes and what they mean. */
export const errorCodes: Readonly<Record<ErrorCode, string>> = Object.freeze({
  E_INVALID_OPTION: 'an option or input broke a rule; the error names the field, rule and value',
  E_UNKNOWN_FLAG: 'the CLI was given a flag it does not know',
  E_ILLEGAL_TRANSITION:
    'a rollout was asked to move to a state it cannot reach from its current one',
  E_UNKNOWN_ROLLOUT: 'no rollout has that id',
  E_NOT_CONFIG_CHANGE: 'rollback was asked of a change that is not a config change',
  E_SNAPSHOT_INVALID: 'an engine snapshot could not be restored',
  E_CLOSED: 'the object was closed and cannot be used',
  E_HTTP: 'the coordinator answered with an error (problem+json); see status and problemCode',
  E_NOT_CONNECTED: 'the SDK could not reach the coordinator (start() gave up)',
  E_FENCED: 'a state write carried a stale fencing token: the replica is no longer the leader',
  E_OVER_BUDGET: "a reader's refetch found no token within refetch.maxWaitMs and was shed",
  E_STORE_UNAVAILABLE: 'the store (Redis) could not be reached; nothing was changed',
  E_WRONG_FLEET:
    "the SDK's `fleet` option names another fleet than the coordinator serves; nothing would apply",
  E_REFUSING:
    'the SDK refused a run of well-formed stream messages for one reason; changes are not applied',
  E_ADDRESS_IN_USE: 'the listen address is in use by another process (pick another with --port)',
  E_IDEMPOTENCY_CONFLICT:
    'a push reused an idempotency key with another change; the first change stands (HTTP 409)',
  E_CONFIG_TOO_LARGE:
    "a config change would take the fleet's config values over limits.configBytes (HTTP 413)",
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

/**
 * The HTTP status each code is answered with. Codes only the SDK or the CLI
 * raise never reach HTTP; they keep 400, what any such error got before.
 */
export const httpStatus: Readonly<Record<ErrorCode, number>> = Object.freeze({
  E_INVALID_OPTION: 400,
  E_UNKNOWN_FLAG: 400,
  E_ILLEGAL_TRANSITION: 409,
  E_UNKNOWN_ROLLOUT: 404,
  E_NOT_CONFIG_CHANGE: 409,
  E_SNAPSHOT_INVALID: 500,
  E_CLOSED: 503,
  E_HTTP: 400,
  E_NOT_CONNECTED: 400,
  E_FENCED: 503,
  E_OVER_BUDGET: 400,
  E_STORE_UNAVAILABLE: 503,
  E_WRONG_FLEET: 409,
  E_REFUSING: 400,
  E_ADDRESS_IN_USE: 400,
  E_IDEMPOTENCY_CONFLICT: 409,
  E_CONFIG_TOO_LARGE: 413,
  E_BAD_JSON: 400,
  E_BODY_TOO_LARGE: 413,
  E_JSON_TOO_DEEP: 400,
  E_JSON_TOO_LARGE: 413,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_CONFIRM_REQUIRED: 422,
  E_OVERLOADED: 503,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_CONFIG_NEEDS_RESTART: 409,
  E_INTERNAL: 500,
})
