/** GET /openapi.json: the HTTP API as OpenAPI 3.1 (public, like /healthz; built once per process). */
import type { App } from '../context.js'
import { openApiDocument } from '../openapi.js'

export const openApiRoutes = (app: App): void => {
  app.get('/openapi.json', (c) => c.json(openApiDocument()))
}
