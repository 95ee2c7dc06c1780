/** `slew serve`: the coordinator on the embedded memory store, until SIGTERM / SIGINT (graceful). */
import { realpathSync } from 'node:fs'
import { isAbsolute, relative, sep } from 'node:path'
import { type LoadedConfig, loadConfig } from '../config/load.js'
import type { Scope } from '../config/schema.js'
import { createCoordinator, type Listening } from '../coordinator/coordinator.js'
import { num, parseFlags } from './args.js'
import { DEFAULT_URL } from './remote.js'

export const serveHelp = `slew serve [flags]

Runs the coordinator: the HTTP API, the SSE stream and the rollout engine,
on the embedded memory store, or on Redis with --redis (several replicas on
one Redis elect a leader that runs the engine; every replica streams). Reads slew.config.yaml (or .yml, .json) in the
working folder if there is one. SIGTERM or SIGINT shuts down gracefully:
every stream is told to come back later, with jitter.

  --config FILE    config file (YAML or JSON)
  --host HOST      listen address (default from config: 127.0.0.1)
  --port N         listen port (default from config: 7070; 0 picks a free one)
  --redis URL      keep state in Redis (several coordinators can share it)

Environment: SLEW_HOST, SLEW_PORT, SLEW_FLEET, SLEW_REDIS_URL override the
file; secrets come from the variables the file names (secretEnv). A config
it cannot start with is refused with every problem listed (the check
\`slew config check\` runs), exit 2.
`

const spec = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  redis: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Where a command on this machine reaches it: a wildcard bind is reached on loopback. */
const localUrl = (at: Listening): string =>
  at.host === '0.0.0.0' || at.host === '::' ? `http://127.0.0.1:${at.port}` : at.url

/** Whether a token with these scopes may act with `want` (admin implies the others, as auth counts it). */
const grants = (scopes: readonly Scope[], want: Scope) =>
  scopes.includes(want) || scopes.includes('admin')

/**
 * The `--token …` a command with scope `want` passes: the variable holding a
 * token's secret, never the secret itself; none with no auth configured.
 */
const tokenFlag = (loaded: LoadedConfig, want: Scope): string => {
  const tokens = loaded.config.auth.tokens
  if (tokens.length === 0) return ''
  // The narrowest token that can: a push job's before an admin's.
  const fit = tokens
    .filter((t) => grants(t.scopes, want))
    .sort((a, b) => Number(a.scopes.includes('admin')) - Number(b.scopes.includes('admin')))[0]
  if (!fit) return ` --token <a token with the ${want} scope: none configured>`
  return fit.secretEnv
    ? ` --token "$${fit.secretEnv}"`
    : ` --token <the secret of token ${fit.name}>`
}

/**
 * The command that runs this CLI, as a person types it here: `npx slew`
 * where slew is installed (in a node_modules), `node dist/cli/main.js` (the
 * path from the working folder) in slew's checkout, where npx would
 * reinstall it.
 */
const selfCommand = (): string => {
  const main = process.argv[1]
  if (!main) return 'npx slew'
  const file = realpathSync(main)
  if (file.includes(`${sep}node_modules${sep}`)) return 'npx slew'
  const rel = relative(process.cwd(), file)
  return `node ${rel.startsWith('..') || isAbsolute(rel) ? file : rel}`
}

/** How to push and watch from another terminal: this coordinator's URL and, with auth on, a token. */
const hints = (loaded: LoadedConfig, at: Listening): string[] => {
  const url = localUrl(at)
  const urlFlag = url === DEFAULT_URL ? '' : ` --url ${url}`
  const slew = selfCommand()
  // With no tokens, the coordinator has said so itself (loopback only, no token needed).
  const auth = loaded.config.auth.tokens.length > 0
  return [
    ...(auth
      ? ['auth is on: each command needs a token with its scope (--token or SLEW_TOKEN)']
      : []),
    `push a change:    ${slew} push${urlFlag}${tokenFlag(loaded, 'push')} --keys sku:1 --reason "price fix"`,
    `watch it roll:    ${slew} status${urlFlag}${tokenFlag(loaded, 'read')} --watch`,
    ...(urlFlag ? [`  (or once: export SLEW_URL=${url})`] : []),
    `dashboard:        ${url}/   metrics: ${url}/metrics`,
  ]
}

export const serveCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f } = parseFlags(argv, spec)
  if (f.help) {
    out(serveHelp)
    return 0
  }
  const port = num('port', f.port)
  const overrides = {
    ...((f.host !== undefined || port !== undefined) && {
      listen: {
        ...(f.host !== undefined && { host: f.host }),
        ...(port !== undefined && { port }),
      },
    }),
    ...(f.redis !== undefined && { store: { kind: 'redis', url: f.redis } }),
  }
  const loaded = loadConfig({ ...(f.config !== undefined && { file: f.config }), overrides })
  const co = createCoordinator({ config: loaded.config, secrets: loaded.secrets })
  // A port in use (E_ADDRESS_IN_USE) must not leave the coordinator's timers holding the process.
  const at = await co.listen().catch(async (error: unknown) => {
    await co.close()
    throw error
  })
  const c = loaded.config
  out(
    [
      `slew coordinator listening on ${at.url}`,
      `  fleet "${c.fleet}", ${c.store.kind} store, config: ${loaded.source ?? 'defaults (no slew.config.yaml here)'}`,
      `  budgets/s: invalidate ${c.budgets.invalidate.ratePerSec}, rewarm ${c.budgets.rewarm.ratePerSec}, config ${c.budgets.config.ratePerSec}, urgent ${c.budgets.urgent.ratePerSec}`,
      '',
      ...hints(loaded, at),
    ].join('\n'),
  )
  await new Promise<void>((resolve) => {
    // Under `npm start`, a Ctrl-C reaches this process twice: from the terminal (to the whole
    // process group) and forwarded by npm, maybe late. The handlers stay, ignoring repeats: a
    // repeat with no handler would kill the process by the signal instead of exit code 0.
    let stopping = false
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return
      stopping = true
      out(`slew: ${signal}: telling every stream to come back later, shutting down`)
      void co.shutdown(signal).then(resolve)
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)
  })
  // Exit now, not when the event loop empties: a natural exit removes the signal handlers
  // before the process ends, and a repeat landing in between would still kill it.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
  process.exit(0)
}
