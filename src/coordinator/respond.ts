/** problem+json responses, and the mapping from slew's coded errors to HTTP statuses. */
import { SlewError } from '../errors.js'
import { PROBLEM_TYPE, type Problem, problem } from '../protocol/problem.js'

export const problemResponse = (p: Problem, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(p), {
    status: p.status,
    headers: { 'content-type': PROBLEM_TYPE, ...headers },
  })

const statusOf: Record<string, number> = {
  E_INVALID_OPTION: 400,
  E_UNKNOWN_FLAG: 400,
  E_UNKNOWN_ROLLOUT: 404,
  E_ILLEGAL_TRANSITION: 409,
  E_NOT_CONFIG_CHANGE: 409,
  E_IDEMPOTENCY_CONFLICT: 409,
  E_CONFIG_TOO_LARGE: 413,
  E_SNAPSHOT_INVALID: 500,
  E_CLOSED: 503,
  E_STORE_UNAVAILABLE: 503,
  E_FENCED: 503,
}

/** A SlewError as problem+json; anything else is a 500 that names nothing internal. */
export const errorProblem = (error: unknown): Problem => {
  if (error instanceof SlewError) {
    const status = statusOf[error.code] ?? 400
    return problem(status, error.code, error.message, {
      ...error.details,
      ...(status === 503 && { retryAfterMs: 1000 }),
    })
  }
  return problem(500, 'E_INTERNAL', 'The coordinator failed; nothing was changed')
}
