/**
 * Child process for the config-memory bench: a real coordinator from dist/
 * (memory store), admission opened up, every config change in one wave.
 * IPC in: { type: 'mem' } (RSS and heap after a full GC). IPC out: { type: 'ready', port }.
 */
import { createCoordinator } from '../dist/index.js'
import { serve, settledMemory } from './proc.js'

const coordinator = createCoordinator({
  config: {
    admission: { ratePerSec: 1e6, burst: 1e6 },
    confirmAbove: 1,
    waves: { steps: [1], bakeMs: 0 },
  },
  log: () => {},
  processMetrics: false,
})
const { port } = await coordinator.listen({ host: '127.0.0.1', port: 0 })
serve(async (m) => (m.type === 'mem' ? { type: 'mem', ...(await settledMemory()) } : undefined))
process.send!({ type: 'ready', port })
