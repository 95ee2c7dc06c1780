/** `slew serve`: the coordinator on the embedded memory store, until SIGTERM / SIGINT (graceful). */
import { loadConfig } from '../config/load.js'
import { createCoordinator } from '../coordinator/coordinator.js'
import { num, parseFlags } from './args.js'

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
      'push a change:    slew push --keys sku:1 --reason "price fix"',
      'watch it roll:    slew status --watch',
      '  (slew: npx slew where slew is installed, node dist/cli/main.js in its checkout)',
      `dashboard:        ${at.url}/   metrics: ${at.url}/metrics`,
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
