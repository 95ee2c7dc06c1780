/**
 * Every route the coordinator serves, as the fuzz knows it: method, path
 * (hono's pattern), the scope it needs and what its body is. The fuzz test
 * checks this table against the routes the app registered, so a route
 * added without a line here fails it.
 */
import type { App } from '../../../src/coordinator/context.js'

export type Scope = 'push' | 'admin' | 'read' | 'client' | 'metrics' | 'none'

/** What a route reads from its body (or `none`: it reads none). */
export type BodyKind =
  | 'change'
  | 'control'
  | 'config-put'
  | 'config-rollback'
  | 'heartbeat'
  | 'recall'
  | 'lease'
  | 'metrics'
  | 'none'

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT'
  readonly path: string
  readonly scope: Scope
  readonly body: BodyKind
  /** Query parameters it reads. */
  readonly query: readonly string[]
}

const route = (
  method: Route['method'],
  path: string,
  scope: Scope,
  body: BodyKind = 'none',
  query: readonly string[] = [],
): Route => ({ method, path, scope, body, query })

export const ROUTES: readonly Route[] = [
  route('POST', '/v1/changes', 'push', 'change', ['dryRun']),
  route('GET', '/v1/changes', 'read', 'none', ['state']),
  route('GET', '/v1/changes/:id', 'read'),
  ...(['pause', 'resume', 'abort', 'rollback'] as const).map((a) =>
    route('POST', `/v1/changes/:id/${a}`, 'admin', 'control'),
  ),
  route('GET', '/v1/config', 'admin'),
  route('PUT', '/v1/config', 'admin', 'config-put', ['dryRun']),
  route('GET', '/v1/config/history', 'admin'),
  route('POST', '/v1/config/rollback', 'admin', 'config-rollback'),
  route('GET', '/v1/stream', 'client', 'none', [
    'clientId',
    'since',
    'entries',
    'epoch',
    'nonce',
    'fleet',
  ]),
  route('POST', '/v1/clients/:id/heartbeat', 'client', 'heartbeat'),
  route('GET', '/v1/clients/:id/rewarm/:changeId', 'client'),
  route('GET', '/v1/clients/:id/rewarms', 'client', 'none', ['nonce']),
  route('POST', '/v1/clients/:id/recall', 'client', 'recall'),
  route('POST', '/v1/leases', 'client', 'lease'),
  route('POST', '/v1/metrics', 'metrics', 'metrics'),
  route('GET', '/v1/incidents', 'read'),
  route('GET', '/v1/fleet', 'read', 'none', ['limit']),
  route('GET', '/metrics', 'none'),
  route('GET', '/healthz', 'none'),
  route('GET', '/readyz', 'none'),
  route('GET', '/', 'none'),
  route('GET', '/dashboard/app.js', 'none'),
  route('GET', '/dashboard/style.css', 'none'),
  route('GET', '/openapi.json', 'none'),
]

/** `METHOD path` of every handler the app registered (middleware, registered for all methods, left out). */
export const registeredRoutes = (app: App): string[] =>
  [
    ...new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`)),
  ].sort()

export const routeName = (r: Pick<Route, 'method' | 'path'>) => `${r.method} ${r.path}`
