/** problem+json responses, and slew's coded errors as problems (statuses: error-codes.ts). */
import { httpStatus } from '../error-codes.js'
import { SlewError } from '../errors.js'
import { PROBLEM_TYPE, type Problem, problem } from '../protocol/problem.js'

export const problemResponse = (p: Problem, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(p), {
    status: p.status,
    headers: { 'content-type': PROBLEM_TYPE, ...headers },
  })

/** A SlewError as problem+json; anything else is a 500 that names nothing internal. */
export const errorProblem = (error: unknown): Problem => {
  if (error instanceof SlewError) {
    return problem(error.code, error.message, {
      ...error.details,
      ...(httpStatus[error.code] === 503 && { retryAfterMs: 1000 }),
    })
  }
  return problem('E_INTERNAL', 'The coordinator failed; nothing was changed')
}
