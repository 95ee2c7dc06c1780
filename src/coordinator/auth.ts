/**
 * Bearer tokens with scopes, compared in constant time (both sides hashed to
 * equal length, every configured token checked). `admin` implies `push` and
 * `read`. With no tokens configured, every request is allowed: the
 * coordinator then binds loopback only (see listen.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { Scope } from '../config/schema.js'
import { problem } from '../protocol/problem.js'
import { problemResponse } from './respond.js'

export interface TokenEntry {
  readonly name: string
  readonly scopes: readonly Scope[]
  readonly secret: string
}

const digest = (s: string) => createHash('sha256').update(s).digest()

const implied: Record<Scope, readonly Scope[]> = {
  admin: ['admin', 'push', 'read'],
  push: ['push'],
  read: ['read'],
  client: ['client'],
}

export class Auth {
  readonly #tokens: { name: string; scopes: Set<Scope>; digest: Buffer }[]

  constructor(tokens: readonly TokenEntry[]) {
    this.#tokens = tokens.map((t) => ({
      name: t.name,
      scopes: new Set(t.scopes.flatMap((s) => implied[s])),
      digest: digest(t.secret),
    }))
  }

  get enabled(): boolean {
    return this.#tokens.length > 0
  }

  /** The token's name if `secret` is a configured token, else undefined. */
  identify(secret: string): { name: string; scopes: ReadonlySet<Scope> } | undefined {
    const given = digest(secret)
    let found: { name: string; scopes: Set<Scope> } | undefined
    for (const t of this.#tokens) {
      // No early exit: every token is compared.
      if (timingSafeEqual(given, t.digest) && !found) found = t
    }
    return found
  }

  /** Hono middleware: 401 without a known token, 403 without the scope; sets `who`. */
  require(scope: Scope): MiddlewareHandler<{ Variables: { who: string } }> {
    return async (c, next) => {
      if (!this.enabled) {
        c.set('who', 'local')
        return next()
      }
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer\s+(.+)$/i.exec(header)
      const token = match ? this.identify(match[1]!.trim()) : undefined
      if (!token) {
        return problemResponse(
          problem(401, 'E_UNAUTHORIZED', 'A valid bearer token is required', {
            detail: match ? 'the token is not known' : 'no Authorization: Bearer header',
          }),
          { 'www-authenticate': 'Bearer' },
        )
      }
      if (!token.scopes.has(scope)) {
        return problemResponse(
          problem(403, 'E_FORBIDDEN', `This route needs the \`${scope}\` scope`, {
            detail: `token \`${token.name}\` has ${[...token.scopes].join(', ')}`,
            scope,
          }),
        )
      }
      c.set('who', token.name)
      return next()
    }
  }
}
