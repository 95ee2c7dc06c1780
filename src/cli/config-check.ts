/** `slew config check [FILE]`: validate a config file the way `slew serve` would read it. */
import { checkConfig } from '../config/load.js'
import { invalidOptions } from '../errors.js'
import { parseFlags } from './args.js'

export const checkHelp = `slew config check [FILE] [--json]

Validates FILE (default: slew.config.yaml / .yml / .json here) with the
environment overrides and secrets \`slew serve\` would use, and the rules it
starts by (a host other than loopback needs auth tokens and signing keys).
Exit 0 when \`slew serve\` would start with it; 2 when not, listing every
problem, each with its field, rule and value (--json: as \`issues\`).
`

/** `argv`: what follows `slew config check`. */
export const checkCommand = (argv: string[], out: (s: string) => void): number => {
  const { values: f, positionals } = parseFlags(argv, {
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean' },
  } as const)
  if (f.help) {
    out(checkHelp)
    return 0
  }
  const [file] = positionals
  const report = checkConfig(file === undefined ? {} : { file })
  if (f.json) {
    out(
      JSON.stringify(
        { ok: report.loaded !== undefined, source: report.source ?? null, issues: report.issues },
        null,
        2,
      ),
    )
    return report.loaded ? 0 : 2
  }
  // Every problem in one error: the CLI prints it (one per line) and exits 2.
  if (!report.loaded) throw invalidOptions(report.issues)
  const c = report.loaded.config
  out(
    `ok: ${report.source ?? 'no config file; defaults'} is valid\n  fleet "${c.fleet}", listen ${c.listen.host}:${c.listen.port}, ${c.store.kind} store, ${c.auth.tokens.length} token(s), signing ${c.signing ? `kid ${c.signing.activeKid}` : 'dev key (loopback only)'}`,
  )
  return 0
}
