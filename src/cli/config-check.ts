/** `slew config check [FILE]`: validate a config file the way `slew serve` would read it. */
import { loadConfig } from '../config/load.js'
import { parseFlags } from './args.js'

export const configHelp = `slew config check [FILE]

Validates FILE (default: slew.config.yaml / .yml / .json here) with the
environment overrides and secrets \`slew serve\` would use. Exit 0 when it is
valid, 2 with the field, the rule and the value when it is not.
`

export const configCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean' },
  } as const)
  const [sub, file] = positionals
  if (f.help || sub !== 'check') {
    out(configHelp)
    return f.help ? 0 : 2
  }
  const loaded = loadConfig(file === undefined ? {} : { file })
  if (f.json) {
    out(JSON.stringify({ ok: true, source: loaded.source ?? null }, null, 2))
    return 0
  }
  const c = loaded.config
  out(
    `ok: ${loaded.source ?? 'no config file; defaults'} is valid\n  fleet "${c.fleet}", listen ${c.listen.host}:${c.listen.port}, ${c.store.kind} store, ${c.auth.tokens.length} token(s), signing ${c.signing ? `kid ${c.signing.activeKid}` : 'dev key (loopback only)'}`,
  )
  return 0
}
