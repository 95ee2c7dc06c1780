/** Prometheus metrics for ops (prom-client, one registry per coordinator). */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'

export const createMetrics = (opts: { defaults?: boolean } = {}) => {
  const registry = new Registry()
  if (opts.defaults !== false)
    collectDefaultMetrics({ register: registry, prefix: 'slew_process_' })
  const m = {
    registry,
    deliveries: new Counter({
      name: 'slew_deliveries_total',
      help: 'Client deliveries of changes, by budget class',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    deliveredCost: new Counter({
      name: 'slew_delivered_cost_total',
      help: 'Budget units spent on deliveries (B1), by budget class',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    tokensGranted: new Counter({
      name: 'slew_budget_tokens_granted_total',
      help: 'Refetch tokens granted by leases (B2), by budget class',
      labelNames: ['class'] as const,
      registers: [registry],
    }),
    leaseRequests: new Counter({
      name: 'slew_lease_requests_total',
      help: 'Lease requests, by budget class and whether any token was granted',
      labelNames: ['class', 'granted'] as const,
      registers: [registry],
    }),
    streams: new Gauge({
      name: 'slew_stream_connections',
      help: 'Stream connections open on this coordinator',
      registers: [registry],
    }),
    connections: new Gauge({
      name: 'slew_connections',
      help: 'HTTP connections open on this coordinator, streams included',
      registers: [registry],
    }),
    connectionsShed: new Counter({
      name: 'slew_connections_shed_total',
      help: 'Connections closed to keep within a cap (limits.connectionsPerAddress: address; limits.connections: total)',
      labelNames: ['cap'] as const,
      registers: [registry],
    }),
    admissions: new Counter({
      name: 'slew_stream_admissions_total',
      help: 'New stream connections admitted (B3)',
      registers: [registry],
    }),
    admissionsRefused: new Counter({
      name: 'slew_stream_admissions_refused_total',
      help: 'New stream connections refused by admission control (503 + Retry-After)',
      registers: [registry],
    }),
    streamsRefused: new Counter({
      name: 'slew_stream_refusals_total',
      help: 'Stream connections turned away because nothing sent on them would apply (e.g. another fleet), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clientsRefusing: new Gauge({
      name: 'slew_clients_refusing',
      help: 'Connected clients whose last heartbeat said they refuse every message, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    configSplit: new Gauge({
      name: 'slew_config_split_clients',
      help: "Connected clients whose config digest differs from the coordinator's stable config",
      registers: [registry],
    }),
    eventsSigned: new Counter({
      name: 'slew_events_signed_total',
      help: 'Stream messages signed (once per message, however many clients receive it)',
      registers: [registry],
    }),
    rollouts: new Gauge({
      name: 'slew_rollouts',
      help: 'Rollouts held, by state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    streamFrames: new Counter({
      name: 'slew_stream_frames_total',
      help: 'SSE frames given to streams here (changes, config, resets, hellos, pings)',
      registers: [registry],
    }),
    streamsCut: new Counter({
      name: 'slew_streams_cut_total',
      help: "Streams cut for holding too much unsent (the client is not reading): over its own limit (reason slow) or all streams' (total)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    streamBuffered: new Gauge({
      name: 'slew_stream_buffered_bytes',
      help: 'Bytes all streams here hold unsent (clients not keeping up)',
      registers: [registry],
    }),
    streamWrites: new Counter({
      name: 'slew_stream_writes_total',
      help: 'Writes to streams here: one carries every frame a stream got in one turn of the event loop',
      registers: [registry],
    }),
    sketchSkipped: new Counter({
      name: 'slew_sketch_skipped_total',
      help: "Deliveries of a change to keys only not sent: the client's fresh key sketch holds none of its keys",
      registers: [registry],
    }),
    sketchReplayed: new Counter({
      name: 'slew_sketch_replayed_total',
      help: 'Skipped deliveries sent after all: a later heartbeat said a key of the change was cached',
      registers: [registry],
    }),
    sketchClients: new Gauge({
      name: 'slew_sketch_clients',
      help: 'Clients whose key sketch is known (fresh or not)',
      registers: [registry],
    }),
    rejectedMessages: new Counter({
      name: 'slew_client_rejected_messages_total',
      help: 'Stream messages clients rejected (as reported in heartbeats), by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    heartbeats: new Counter({
      name: 'slew_heartbeats_total',
      help: 'Client heartbeats received',
      registers: [registry],
    }),
    gateVerdicts: new Counter({
      name: 'slew_gate_verdicts_total',
      help: 'Changes of a gate check verdict (pass, fail, inconclusive, no-data, idle), by check',
      labelNames: ['verdict', 'check'] as const,
      registers: [registry],
    }),
    incidentsOpen: new Gauge({
      name: 'slew_incidents_open',
      help: 'Business-watch incidents open now (each paused every rolling rollout)',
      registers: [registry],
    }),
    gateEffect: new Gauge({
      name: 'slew_gate_effect',
      help: 'The latest look at a watched rollout: the effect (treated - control) of each check, its estimate and interval bounds',
      labelNames: ['check', 'bound'] as const,
      registers: [registry],
    }),
    checkpointsRefused: new Counter({
      name: 'slew_rewarm_checkpoints_refused_total',
      help: 'Rewarm checkpoints not kept: of no rewarm this coordinator sent the client (lately)',
      registers: [registry],
    }),
    budgetRate: new Gauge({
      name: 'slew_budget_rate_per_second',
      help: 'Budget in force, per class: delivery cost (B1, deliveries) and refetch tokens (B2, tokens) per second',
      labelNames: ['class', 'budget'] as const,
      registers: [registry],
    }),
    rewarmRate: new Gauge({
      name: 'slew_rewarm_rate_per_second',
      help: 'The adaptive rewarm token rate in force (AIMD, never above the rewarm budget)',
      registers: [registry],
    }),
    originLatency: new Gauge({
      name: 'slew_origin_latency_seconds',
      help: "Origin latency as the fleet reported it over the last control window, each client's event-loop lag taken out, by quantile",
      labelNames: ['quantile'] as const,
      registers: [registry],
    }),
    originErrors: new Gauge({
      name: 'slew_origin_error_ratio',
      help: 'Share of origin calls that failed over the last control window, as the fleet reported it',
      registers: [registry],
    }),
    requests: new Counter({
      name: 'slew_http_requests_total',
      help: 'HTTP requests, by route and status',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
  }
  return m
}

export type Metrics = ReturnType<typeof createMetrics>
