/** Coordinator replicas as users run them: `slew serve --redis` processes of the built bin, their output kept. */
import { spawn } from 'node:child_process'
import { bin } from './cli.js'
import { waitFor } from './coordinator.js'

/** A replica in `dir` (its slew.config.yaml) on `port` (0: any), once it listens. */
export const serveReplica = async (dir: string, redisUrl: string, port = 0) => {
  const p = spawn(process.execPath, [bin, 'serve', '--redis', redisUrl, '--port', String(port)], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  p.stdout!.on('data', (b: Buffer) => {
    out += b.toString()
  })
  p.stderr!.on('data', (b: Buffer) => {
    out += b.toString()
  })
  await waitFor('a replica to listen', () => /listening on http/.test(out), 20_000)
  return { p, url: /listening on (http:\/\/\S+)/.exec(out)![1]!, log: () => out }
}

/** What a replica says it is (`leader` or `follower`), from /readyz. */
export const roleOf = async (url: string): Promise<string> =>
  ((await (await fetch(`${url}/readyz`)).json()) as { role: string }).role

/** Two replicas in `dir` on one Redis, once one leads: both, and which leads and which follows. */
export const leaderAndFollower = async (dir: string, redisUrl: string) => {
  const replicas = [await serveReplica(dir, redisUrl), await serveReplica(dir, redisUrl)]
  await waitFor('a leader', async () =>
    (await Promise.all(replicas.map((r) => roleOf(r.url)))).includes('leader'),
  )
  const roles = await Promise.all(replicas.map((r) => roleOf(r.url)))
  return {
    replicas,
    leader: replicas[roles.indexOf('leader')]!,
    follower: replicas[roles.indexOf('follower')]!,
  }
}
