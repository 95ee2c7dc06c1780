/** `slew status [ID] [--watch]` and `slew pause|resume|abort|rollback ID`. */
import { parseFlags } from './args.js'
import { call, targetOf } from './remote.js'
import { detail, oneLine, type RolloutJson, rewarming } from './rollout-view.js'

export const statusHelp = `slew status [ID] [flags]

Without ID: the business watch's open incidents (with a \`watch\` config),
then every rollout the coordinator holds, newest first. With ID: one
rollout and a table of its waves (share of the fleet, clients queued,
delivered and acked, when it started, how long it took, its state). --watch redraws every second until it ends (for a
rewarm: until its clients have fetched its keys).

  --watch        follow it live (a progress bar on a terminal)
  --json         print the coordinator's answer as JSON
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the read scope (SLEW_TOKEN)
`

export const controlHelp = `slew pause|resume|abort|rollback ID [--reason TEXT] [--url URL] [--token T]

Controls a rollout (admin scope). rollback only applies to config changes:
it sends the previous values in waves, like any change.
`

interface IncidentsJson {
  incidents: {
    id: string
    metric: string
    since: number
    expected: number
    observed: number
    closedAt?: number
    paused: string[]
    attribution?: { summary: string; suspects: { line: string }[] }
  }[]
  watching: { metric: string; warmingUp?: string; learning?: string }[]
}

/** The business watch, if the coordinator answers (an older one does not: nothing shown). */
const incidentsOf = async (t: ReturnType<typeof targetOf>): Promise<IncidentsJson | undefined> => {
  try {
    return await call<IncidentsJson>(t, 'GET', '/v1/incidents')
  } catch {
    return undefined
  }
}

/** Open incidents first, each with its likely culprits, and any metric the watch cannot judge yet. */
const watchLines = (w: IncidentsJson): string[] => {
  const lines: string[] = []
  for (const i of w.incidents) {
    if (i.closedAt !== undefined) continue
    const paused = i.paused.length ? `; paused ${i.paused.join(', ')}` : ''
    lines.push(
      `INCIDENT ${i.id} since ${new Date(i.since).toISOString()}: ${i.metric} ${i.observed.toFixed(1)}/s, expected ${i.expected.toFixed(1)}/s${paused}`,
    )
    // The likely culprit first: one line a person reads to know where to look.
    if (i.attribution) {
      lines.push(`  ${i.attribution.summary}`)
      for (const [k, s] of i.attribution.suspects.slice(0, 3).entries())
        lines.push(`  ${k + 1}. ${s.line}`)
    }
  }
  for (const m of w.watching) {
    if (m.warmingUp) lines.push(`watch ${m.metric}: ${m.warmingUp}`)
    else if (m.learning) lines.push(`watch ${m.metric}: ${m.learning} (level and trend meanwhile)`)
  }
  return lines
}

const done = (state: string) => !['planned', 'rolling', 'paused'].includes(state)

export const statusCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, {
    watch: { type: 'boolean' },
    json: { type: 'boolean' },
    url: { type: 'string' },
    token: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const)
  if (f.help) {
    out(statusHelp)
    return 0
  }
  const t = targetOf(f)
  const id = positionals[0]
  const fetchOnce = async () =>
    id
      ? [await call<RolloutJson>(t, 'GET', `/v1/changes/${encodeURIComponent(id)}`)]
      : (await call<{ changes: RolloutJson[] }>(t, 'GET', '/v1/changes')).changes
  let rollouts = await fetchOnce()
  if (f.json && !f.watch) {
    out(JSON.stringify(id ? rollouts[0] : { changes: rollouts }, null, 2))
    return 0
  }
  let watch = id ? undefined : await incidentsOf(t)
  const show = () =>
    id
      ? detail(rollouts[0]!)
      : [
          ...(watch ? watchLines(watch) : []),
          rollouts.length ? rollouts.map(oneLine).join('\n') : 'no rollouts',
        ].join('\n')
  if (!f.watch) {
    out(show())
    return 0
  }
  const tty = process.stdout.isTTY
  let lines = 0
  for (;;) {
    const text = show()
    if (tty && lines > 0) process.stdout.write(`\x1b[${lines}A\x1b[0J`)
    out(text)
    lines = text.split('\n').length
    // A rewarm is followed until its clients have fetched the keys, not only until it is delivered.
    if (rollouts.every((r) => done(r.state) && !rewarming(r))) return 0
    await new Promise((r) => setTimeout(r, 1000))
    rollouts = await fetchOnce()
    if (!id) watch = await incidentsOf(t)
  }
}

export const controlCommand =
  (action: 'pause' | 'resume' | 'abort' | 'rollback') =>
  async (argv: string[], out: (s: string) => void): Promise<number> => {
    const { values: f, positionals } = parseFlags(argv, {
      reason: { type: 'string' },
      json: { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } as const)
    if (f.help || positionals.length !== 1) {
      out(controlHelp)
      return f.help ? 0 : 2
    }
    const id = positionals[0]!
    const r = await call<RolloutJson>(
      t(f),
      'POST',
      `/v1/changes/${encodeURIComponent(id)}/${action}`,
      {
        ...(f.reason !== undefined && { reason: f.reason }),
      },
    )
    out(f.json ? JSON.stringify(r, null, 2) : oneLine(r))
    return 0
  }

const t = targetOf
