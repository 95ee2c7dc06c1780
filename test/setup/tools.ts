/**
 * Vitest global setup: the Redis tests start private `redis-server`
 * processes and create clusters with `redis-cli`. Without them on PATH, stop
 * at once with what to install, instead of two dozen tests failing on spawn.
 */
import { execFileSync } from 'node:child_process'

const missing = (cmd: string): boolean => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' })
    return false
  } catch {
    return true
  }
}

export default function setup(): void {
  const absent = ['redis-server', 'redis-cli'].filter(missing)
  if (absent.length > 0)
    throw new Error(
      `${absent.join(' and ')} not on PATH: the tests start their own Redis servers. ` +
        'Install Redis 7 (Debian: apt-get install redis-server redis-tools), or run .ci/run, which does.',
    )
}
