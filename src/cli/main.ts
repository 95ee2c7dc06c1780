#!/usr/bin/env node
/** The `slew` command. Bad input exits 2 with a coded error; nothing runs half-way. */
import { SlewError } from '../errors.js'
import { planCommand, planHelp } from './plan.js'
import { simulateCommand, simulateHelp } from './simulate.js'

const usage = `slew — bound how fast any fleet-wide change can happen

usage: slew <command> [flags]

commands:
  simulate   naive broadcast vs slew for one invalidate-all, on a virtual clock
  plan       dry-run a change against a fleet size: waves, duration, peak load

Run \`slew <command> --help\` for its flags.
`

const commands: Record<
  string,
  { run: (argv: string[], out: (s: string) => void) => number; help: string }
> = {
  simulate: { run: simulateCommand, help: simulateHelp },
  plan: { run: planCommand, help: planHelp },
}

export const main = (
  argv: string[],
  out = (s: string) => process.stdout.write(`${s}\n`),
): number => {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage)
    return name ? 0 : 2
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`slew: unknown command \`${name}\`\n\n${usage}`)
    return 2
  }
  try {
    return command.run(rest, out)
  } catch (error) {
    if (error instanceof SlewError) {
      process.stderr.write(`slew ${name}: ${error.code}: ${error.message}\n`)
      return error.code === 'E_INVALID_OPTION' || error.code === 'E_UNKNOWN_FLAG' ? 2 : 1
    }
    throw error
  }
}

process.exitCode = main(process.argv.slice(2))
