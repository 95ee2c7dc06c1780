/**
 * One metric watched against its model. `threshold` and `forMs` name the
 * smallest deviation that matters: one that puts a `forMs` window's mean
 * `threshold` noise units off, in the bad direction — per step, δ =
 * threshold ÷ √(steps in forMs), from the lower of the model's level and
 * its baseline (the higher, when higher is worse: the end of a promotion is
 * no drop). The watch accumulates the evidence for
 * such a deviation with a one-sided CUSUM of each step's deviation (noise
 * units, positive worse) less δ/2, so a large drop opens an incident within
 * a few steps and a small one as its evidence adds up; beside it a second,
 * finer CUSUM less δ/4 adds up deviations about half as large (a CUSUM
 * less δ/2 gains nothing from a deviation of δ/2, and a count's δ in noise
 * units falls with its rate: at night, or on a smaller metric), but never
 * finer than MODEL_ERROR of the expected value (the model is not that
 * exact: at high rates that is many noise units). Either opens at the height
 * a noise-only series would reach less than once in 2 × `quietSteps` steps
 * (Siegmund's approximation of the CUSUM's run length): together, less
 * than once in `quietSteps`. The model
 * learns each step only `learnAfterMs` later, so a change is judged
 * against what came before it, and not at all if an incident is open by
 * then (for at most `relearnAfterMs` of an open incident: what lasts longer
 * is the new level). An incident closes once the evidence has stayed under
 * half its height for `clearMs`. Pure: the caller feeds closed steps in order.
 */
import { type Expectation, type ModelOptions, SeriesModel } from './model.js'

export interface WatchSpec {
  readonly metric: string
  /** Which direction is bad. */
  readonly worse: 'lower' | 'higher'
  /** With forMs: the smallest deviation that matters, noise units of a forMs window's mean. */
  readonly threshold: number
  readonly forMs: number
  /** Back within bounds this long closes an incident, ms. */
  readonly clearMs: number
}

export interface WatchTuning {
  /** One step, ms. @default 1000 */
  readonly stepMs?: number
  /**
   * A noise-only series opens an incident less than once in this many steps,
   * by the CUSUM's run length; the model's own error adds to that, so it is
   * set well above the rate aimed for. @default 26 weeks of steps
   */
  readonly quietSteps?: number
  /** Steps the model learns before the watch may open an incident. @default 10 minutes of steps */
  readonly warmupSteps?: number
  /** How long after a step the model learns it, ms. @default 120000 */
  readonly learnAfterMs?: number
  /**
   * An incident open this long stops holding the model still: it learns the
   * series again (what lasts this long is the new level, a person has been
   * told), so the incident closes once the model has caught up, and a later
   * drop can open another. @default 900000 (15 minutes)
   */
  readonly relearnAfterMs?: number
}

export interface Incident {
  readonly metric: string
  readonly openedAt: number
  /** When the deviation began: the step the evidence started building from. */
  readonly since: number
  /** Means over the steps since it began: what was expected, what was seen. */
  readonly expected: number
  readonly observed: number
  closedAt?: number
}

export interface StepReport {
  readonly at: number
  readonly value: number
  readonly expectation: Expectation
  /** The evidence after this step (opens an incident at `height`). */
  readonly evidence: number
  readonly opened?: Incident
  readonly closed?: Incident
}

const WEEK_MS = 7 * 86_400_000
/**
 * The finer CUSUM's reference is half the coarser one's: for a deviation of
 * δ/2 it gains δ/4 a step where the coarser gains nothing, and for δ it
 * opens only slightly later (its height is higher).
 */
const FINER = 0.5
/**
 * The share of the expected value the model may be off by without anything
 * being wrong (a seasonal shape from a few periods' medians, a weekend's
 * turn the daily period does not know): the finer CUSUM looks for no
 * deviation smaller than about this, whatever the noise.
 */
const MODEL_ERROR = 0.05

/**
 * The CUSUM height whose in-control run length is about `steps` for
 * reference k (Siegmund: ARL ≈ (e^{2kh'} − 2kh' − 1) / 2k², h' = h + 1.166),
 * found by bisection.
 */
export const cusumHeight = (k: number, steps: number): number => {
  const arl = (h: number) => {
    const x = 2 * k * (h + 1.166)
    return (Math.exp(x) - x - 1) / (2 * k * k)
  }
  let lo = 0
  let hi = 1
  while (arl(hi) < steps && hi < 1e6) hi *= 2
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (arl(mid) < steps) lo = mid
    else hi = mid
  }
  return hi
}

/** The steps a CUSUM's sum has been building over: since when, sums of expected and seen. */
interface Run {
  since: number
  expected: number
  value: number
  n: number
}

/**
 * One one-sided CUSUM: its reference (noise units a step), its height, its
 * sum, and the run of steps since the sum last left 0 (each its own: the
 * finer one's starts earlier, on noise, and would dilute a large drop's).
 */
interface Cusum {
  readonly k: number
  readonly height: number
  s: number
  run: Run | undefined
}

export class MetricWatch {
  readonly model: SeriesModel
  /** The per-step reference: half the smallest deviation that matters. */
  readonly k: number
  /** The evidence at which an incident opens (the coarser CUSUM's height; the finer one's is scaled to it). */
  readonly height: number
  /** The coarse CUSUM (reference k) and the finer one (k × FINER). */
  readonly #cusums: readonly [Cusum, Cusum]
  readonly #warmup: number
  readonly #learnAfterMs: number
  readonly #relearnAfterMs: number
  /** Steps seen and not learned yet, oldest first. */
  readonly #pending: { at: number; value: number }[] = []
  #open: Incident | undefined
  #calmSince: number | undefined

  constructor(
    readonly spec: WatchSpec,
    model: ModelOptions = {},
    tuning: WatchTuning = {},
  ) {
    const stepMs = tuning.stepMs ?? 1000
    this.model = new SeriesModel({ stepMs, ...model })
    this.#learnAfterMs = tuning.learnAfterMs ?? 120_000
    this.#relearnAfterMs = tuning.relearnAfterMs ?? 900_000
    const n = Math.max(1, spec.forMs / stepMs)
    this.k = spec.threshold / Math.sqrt(n) / 2
    // Two CUSUMs, each its half of the false incidents allowed.
    const quiet = 2 * (tuning.quietSteps ?? (26 * WEEK_MS) / stepMs)
    this.height = cusumHeight(this.k, quiet)
    const fine = this.k * FINER
    this.#cusums = [
      { k: this.k, height: this.height, s: 0, run: undefined },
      { k: fine, height: cusumHeight(fine, quiet), s: 0, run: undefined },
    ]
    this.#warmup = tuning.warmupSteps ?? 600_000 / stepMs
  }

  get open(): Incident | undefined {
    return this.#open
  }

  /**
   * A step a previous leader judged, learned without being judged again (a
   * new leader's model goes on from its history); before any `step`.
   */
  replay(at: number, value: number, learn = true): void {
    this.model.observe(at, value, learn)
  }

  /** How long after a step the model learns it, ms. */
  get learnAfterMs(): number {
    return this.#learnAfterMs
  }

  /**
   * An incident a previous leader opened and had not closed: it stays open
   * (no second one for the same deviation) and closes as any other does.
   */
  resumeOpen(incident: Incident): void {
    this.#open = { ...incident }
    for (const c of this.#cusums) c.s = c.height
    this.#calmSince = undefined
  }

  /** Steps the model still has to learn before the watch judges (0: it judges). */
  get warmupLeft(): number {
    return Math.max(0, this.#warmup - (this.model.steps + this.#pending.length))
  }

  /**
   * The evidence, on the coarse CUSUM's scale: the larger of the two sums,
   * each as a share of its own height, times `height`.
   */
  get #evidence(): number {
    const [coarse, finer] = this.#cusums
    return this.height * Math.max(coarse.s / coarse.height, finer.s / finer.height)
  }

  /** One closed step of the series. */
  step(at: number, value: number): StepReport {
    const e = this.model.expect(at)
    const usable =
      e.steps + this.#pending.length >= this.#warmup &&
      Number.isFinite(e.expected) &&
      Number.isFinite(e.noise) &&
      e.noise > 0
    let opened: Incident | undefined
    let closed: Incident | undefined
    if (usable) {
      // Judged against the less alarming of the level and the baseline: a promotion's end is no drop.
      const base = Number.isFinite(e.baseline) ? e.baseline : e.expected
      const expected =
        this.spec.worse === 'lower' ? Math.min(e.expected, base) : Math.max(e.expected, base)
      const raw = (value - expected) / e.noise
      const d = this.spec.worse === 'lower' ? -raw : raw
      const [coarse, finer] = this.#cusums
      coarse.s = Math.max(0, coarse.s + d - coarse.k)
      // Never finer than the model's own error, in this step's noise units.
      const floor = (MODEL_ERROR * Math.abs(expected)) / e.noise / 2
      finer.s = Math.max(0, finer.s + d - Math.max(finer.k, floor))
      for (const c of this.#cusums) {
        if (c.s > 0) {
          c.run ??= { since: at, expected: 0, value: 0, n: 0 }
          c.run.expected += expected
          c.run.value += value
          c.run.n++
        } else c.run = undefined
      }
      // The deviation is the one whose CUSUM is nearer its height (the one that opens).
      const lead = coarse.s / coarse.height >= finer.s / finer.height ? coarse : finer
      if (!this.#open && this.#evidence >= this.height && lead.run) {
        const r = lead.run
        opened = {
          metric: this.spec.metric,
          openedAt: at,
          since: r.since,
          expected: r.expected / r.n,
          observed: r.value / r.n,
        }
        this.#open = opened
        this.#calmSince = undefined
      } else if (this.#open) {
        // Open, more evidence says nothing new: capped, the metric's return shows within seconds.
        for (const c of this.#cusums) c.s = Math.min(c.s, c.height)
        // Back within bounds: the evidence under half the height (noise alone rarely reaches it).
        if (this.#evidence >= this.height / 2) this.#calmSince = undefined
        else {
          this.#calmSince ??= at
          if (at - this.#calmSince >= this.spec.clearMs) {
            this.#open.closedAt = at
            closed = this.#open
            this.#open = undefined
            this.#calmSince = undefined
          }
        }
      }
    }
    // Learned later, unless an incident is open by then: a drop is not learned as the new
    // normal. Not for ever: one open for relearnAfterMs is the new level, learned from then on.
    this.#pending.push({ at, value })
    while (this.#pending.length > 0 && at - this.#pending[0]!.at >= this.#learnAfterMs) {
      const p = this.#pending.shift()!
      const open = this.#open
      this.model.observe(p.at, p.value, !open || p.at - open.openedAt >= this.#relearnAfterMs)
    }
    return {
      at,
      value,
      expectation: e,
      evidence: this.#evidence,
      ...(opened && { opened }),
      ...(closed && { closed }),
    }
  }
}
