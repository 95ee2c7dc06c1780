#!/usr/bin/env node
/** The `slew` command. Bad input exits 2 with a coded error; nothing runs half-way. */
import { readFileSync } from 'node:fs'
import { HttpError, SlewError } from '../errors.js'
import { configCommand, configHelp } from './config-command.js'
import { planCommand, planHelp } from './plan.js'
import { pushCommand, pushHelp } from './push.js'
import { exitCodeOf } from './remote.js'
import { serveCommand, serveHelp } from './serve.js'
import { simulateCommand, simulateHelp } from './simulate.js'
import { controlCommand, controlHelp, statusCommand, statusHelp } from './status.js'
import { didYouMean } from './suggest.js'

const usage = `slew — bound how fast any fleet-wide change can happen

usage: slew <command> [flags]

commands:
  serve      run the coordinator (memory store) on 127.0.0.1:7070
  push       submit a change to a running coordinator
  status     show rollouts (--watch to follow one)
  pause, resume, abort, rollback ID
             control a rollout
  config get|set|history|rollback
             the running coordinator's live config
  config check [FILE]
             validate a config file
  simulate   naive broadcast vs slew for one invalidate-all, on a virtual clock
  plan       dry-run a change against a fleet size: waves, duration, peak load

Run \`slew <command> --help\` for its flags; \`slew --version\` for the version.
`

/**
 * The package's version, from its package.json two folders up: beside
 * src/cli/ in a checkout, dist/cli/ once built, and in an installed package.
 */
const version = (): string =>
  (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string
    }
  ).version

/** Errors the user fixes by changing what they typed (or the config): exit code 2. */
const badInput = new Set(['E_INVALID_OPTION', 'E_UNKNOWN_FLAG', 'E_ADDRESS_IN_USE'])

type Run = (argv: string[], out: (s: string) => void) => number | Promise<number>

const commands: Record<string, { run: Run; help: string }> = {
  serve: { run: serveCommand, help: serveHelp },
  push: { run: pushCommand, help: pushHelp },
  status: { run: statusCommand, help: statusHelp },
  pause: { run: controlCommand('pause'), help: controlHelp },
  resume: { run: controlCommand('resume'), help: controlHelp },
  abort: { run: controlCommand('abort'), help: controlHelp },
  rollback: { run: controlCommand('rollback'), help: controlHelp },
  config: { run: configCommand, help: configHelp },
  simulate: { run: simulateCommand, help: simulateHelp },
  plan: { run: planCommand, help: planHelp },
}

export const main = async (
  argv: string[],
  out = (s: string) => process.stdout.write(`${s}\n`),
): Promise<number> => {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage)
    return name ? 0 : 2
  }
  if (name === '--version' || name === '-v') {
    out(version())
    return 0
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (!command) {
    const flag = name.startsWith('-')
    const what = `unknown ${flag ? 'flag' : 'command'} "${name}"`
    const hint = didYouMean(name, flag ? ['--help', '--version'] : Object.keys(commands))
    process.stderr.write(hint ? `slew: ${what}: ${hint}\n` : `slew: ${what}\n\n${usage}`)
    return 2
  }
  try {
    return await command.run(rest, out)
  } catch (error) {
    if (error instanceof HttpError) {
      process.stderr.write(`slew ${name}: ${error.problemCode}: ${error.message}\n`)
      return exitCodeOf(error)
    }
    if (error instanceof SlewError) {
      process.stderr.write(`slew ${name}: ${error.code}: ${error.message}\n`)
      return badInput.has(error.code) ? 2 : 1
    }
    if (error instanceof Error && /cannot reach the coordinator/.test(error.message)) {
      process.stderr.write(`slew ${name}: ${error.message}\n`)
      return 1
    }
    throw error
  }
}

process.exitCode = await main(process.argv.slice(2))
