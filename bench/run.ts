/**
 * `npm run bench`: every benchmark, each a ratio against a baseline measured
 * in the same run, printed as a Markdown table for BENCHMARKS.md.
 * Needs the build (`npm run build`); uses only this machine.
 */
import { cpus } from 'node:os'
import { catalog } from './catalog.js'
import { configMemoryTable } from './config-memory.js'
import { convergence } from './convergence.js'
import { fanout } from './fanout.js'
import { fleet30k } from './fleet-30k.js'
import { heartbeatLoad } from './heartbeat-load.js'
import { margins } from './margins.js'
import { redisBudget } from './redis-budget.js'
import { replicas } from './replicas.js'
import { rewarmPg } from './rewarm-pg.js'
import { sdkGet } from './sdk-get.js'
import { sdkMemory } from './sdk-memory.js'
import { simScale } from './sim-scale.js'
import { streamMemory } from './stream-memory.js'

interface Result {
  name: string
  header: string[]
  rows: string[][]
  notes: string[]
}

const md = (r: Result) =>
  [
    `### ${r.name}`,
    '',
    `| ${r.header.join(' | ')} |`,
    `|${r.header.map(() => ' --- ').join('|')}|`,
    ...r.rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n')

const only = process.argv[2]
/** A bench prints one table, or several (e.g. a figure and a check). */
const benches: Record<string, () => Result | Result[] | Promise<Result | Result[]>> = {
  'sim-scale': simScale,
  fanout,
  'sdk-get': sdkGet,
  'sdk-memory': sdkMemory,
  'stream-memory': streamMemory,
  'redis-budget': redisBudget,
  replicas,
  'config-memory': configMemoryTable,
  'heartbeat-load': heartbeatLoad,
  'fleet-30k': fleet30k,
  'rewarm-pg': rewarmPg,
  margins,
  convergence,
  catalog,
}
console.log(
  `# slew benchmarks — ${new Date().toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`,
)
for (const [name, bench] of Object.entries(benches)) {
  if (only && only !== name) continue
  for (const r of [await bench()].flat()) console.log(md(r))
}
