/**
 * A 403 says what the route needs, never what the token is: before (issue
 * 12, item 9) it named the token (`token \`dashboard-prod-7\` has read`)
 * and its scopes, or the name of a token bound to other client ids, to
 * whoever held it.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterAll, post, startCoordinator } from '../helpers/coordinator.js'

const closers = closeAfterAll()

describe('403 answers', () => {
  it('name neither the token nor its scopes, nor the client ids it is bound to', async () => {
    const READ = 'read-token-0123456789abcdef'
    const EU = 'eu-token-0123456789abcdef'
    const { co, url } = await startCoordinator({
      auth: {
        tokens: [
          { name: 'dashboard-prod-7', scopes: ['read'], secret: READ },
          { name: 'apps-eu-secret-name', scopes: ['client'], secret: EU, clientIds: ['eu-*'] },
        ],
      },
    })
    closers.push(() => co.close())
    const scope = await post(
      `${url}/v1/changes`,
      { kind: 'invalidate', target: { keys: ['a'] } },
      {
        authorization: `Bearer ${READ}`,
      },
    )
    expect(scope.status).toBe(403)
    const a = await scope.text()
    expect(a).not.toContain('dashboard-prod-7')
    expect(a).not.toMatch(/\bread\b/)
    const bound = await post(
      `${url}/v1/clients/us-1/heartbeat`,
      {},
      { authorization: `Bearer ${EU}` },
    )
    expect(bound.status).toBe(403)
    const b = await bound.text()
    expect(b).not.toContain('apps-eu-secret-name')
    expect(b).not.toContain('eu-*')
    expect(JSON.parse(b)).toMatchObject({ code: 'E_FORBIDDEN', clientId: 'us-1' })
  })
})
