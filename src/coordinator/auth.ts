/**
 * Bearer tokens with scopes, compared in constant time (both sides hashed to
 * equal length, every configured token checked). `admin` implies `push` and
 * `read`. A token may be bound to client ids (`clientIds`, patterns with `*`):
 * it then acts only as those clients, so one app server's token cannot
 * heartbeat, lease or stream as another. With no tokens configured, every
 * request is allowed: the coordinator then binds loopback only (see listen.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { Scope } from '../config/schema.js'
import { problem } from '../protocol/problem.js'
import { HttpProblem, headerOf } from './http.js'
import { problemResponse } from './respond.js'

export interface TokenEntry {
  readonly name: string
  readonly scopes: readonly Scope[]
  readonly secret: string
  /** Client ids this token may act as (`*` matches any run of characters); any if absent. */
  readonly clientIds?: readonly string[] | undefined
}

/** Who made a request, and which client ids it may act as. */
export interface Caller {
  readonly who: string
  readonly actsAs: (clientId: string) => boolean
}

const anyClient = () => true

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** One matcher for a list of `*` patterns (anchored; everything else literal). */
export const clientIdMatcher = (patterns: readonly string[]): ((id: string) => boolean) => {
  const re = new RegExp(
    `^(?:${patterns.map((p) => p.split('*').map(escapeRe).join('.*')).join('|')})$`,
  )
  return (id) => re.test(id)
}

const digest = (s: string) => createHash('sha256').update(s).digest()

const implied: Record<Scope, readonly Scope[]> = {
  admin: ['admin', 'push', 'read', 'metrics'],
  push: ['push'],
  read: ['read'],
  client: ['client'],
  metrics: ['metrics'],
}

interface KnownToken {
  readonly name: string
  readonly scopes: ReadonlySet<Scope>
  readonly digest: Buffer
  readonly actsAs: (clientId: string) => boolean
}

export class Auth {
  readonly #tokens: KnownToken[]

  constructor(tokens: readonly TokenEntry[]) {
    this.#tokens = tokens.map((t) => ({
      name: t.name,
      scopes: new Set(t.scopes.flatMap((s) => implied[s])),
      digest: digest(t.secret),
      actsAs: t.clientIds ? clientIdMatcher(t.clientIds) : anyClient,
    }))
  }

  get enabled(): boolean {
    return this.#tokens.length > 0
  }

  /** The token's name if `secret` is a configured token, else undefined. */
  identify(secret: string): KnownToken | undefined {
    const given = digest(secret)
    let found: KnownToken | undefined
    for (const t of this.#tokens) {
      // No early exit: every token is compared.
      if (timingSafeEqual(given, t.digest) && !found) found = t
    }
    return found
  }

  /** Hono middleware: 401 without a known token, 403 without the scope; sets `caller`. */
  require(scope: Scope): MiddlewareHandler<{ Variables: { caller: Caller } }> {
    return async (c, next) => {
      if (!this.enabled) {
        c.set('caller', { who: 'local', actsAs: anyClient })
        return next()
      }
      const header = headerOf(c, 'authorization') ?? ''
      const match = /^Bearer\s+(.+)$/i.exec(header)
      const token = match ? this.identify(match[1]!.trim()) : undefined
      if (!token) {
        return problemResponse(
          problem('E_UNAUTHORIZED', 'A valid bearer token is required', {
            detail: match ? 'the token is not known' : 'no Authorization: Bearer header',
          }),
          { 'www-authenticate': 'Bearer' },
        )
      }
      if (!token.scopes.has(scope)) {
        // Neither the token's name nor its scopes: whoever holds a leaked token learns nothing more.
        return problemResponse(
          problem('E_FORBIDDEN', `This route needs the \`${scope}\` scope`, { scope }),
        )
      }
      c.set('caller', { who: token.name, actsAs: token.actsAs })
      return next()
    }
  }
}

/** 403 unless the caller's token may act as `clientId`. */
export const checkActsAs = (caller: Caller, clientId: string): void => {
  if (!caller.actsAs(clientId))
    throw new HttpProblem(
      problem('E_FORBIDDEN', 'This token may not act as this client', { clientId }),
    )
}
