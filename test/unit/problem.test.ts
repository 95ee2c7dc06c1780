/** One error registry: problem+json takes only registered codes, each with its own HTTP status. */
import { describe, expect, it } from 'vitest'
import { errorCodes, httpStatus } from '../../src/error-codes.js'
import { problem } from '../../src/protocol/problem.js'

describe('problem', () => {
  it("answers each registered code with the registry's status", () => {
    for (const code of Object.keys(errorCodes) as (keyof typeof errorCodes)[]) {
      const p = problem(code, 'title', { detail: 'd' })
      expect(p).toMatchObject({ type: `urn:slew:error:${code}`, code, status: httpStatus[code] })
    }
    expect(Object.keys(httpStatus).sort()).toEqual(Object.keys(errorCodes).sort())
  })

  it('refuses a code the registry does not hold (a type error)', () => {
    // @ts-expect-error: not a registered code
    expect(problem('E_NO_SUCH_CODE', 'title').status).toBeUndefined()
  })
})
