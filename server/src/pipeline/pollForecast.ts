/**
 * Predictive polling as pure functions: what the provider's render time is likely to be, and
 * when to look next. A fixed clock (5, 15, 30, 60 s, then every minute) spends most of its
 * polls long before the video can be ready and still finds it 30 s late on average. Knowing
 * roughly when the render ends, polls can be sparse before that moment and dense around it.
 *
 * Model: render seconds = k × audio seconds, with ln k normally distributed (a lognormal
 * render time). k is learned from finished jobs (ProviderStats, kept in the job store).
 */

import type { ProviderStats } from '../ports/jobStore';

export type { ProviderStats };

/** The lognormal render time of one job, counted from the moment the video was requested. */
export interface RenderForecast {
  /** exp(mu): half the renders end before this many seconds. */
  medianSec: number;
  /** Standard deviation of ln(render seconds). */
  sigma: number;
}

/** Before any history: k and the spread of ln k (a wide prior: the first jobs teach the rest). */
export interface RenderPrior {
  kPerAudioSec: number;
  sigma: number;
  /** How many renders the prior is worth against learned ones. */
  weight: number;
  /** Audio length assumed when the job does not know its own. */
  assumedAudioSec: number;
}

export const DEFAULT_RENDER_PRIOR: RenderPrior = { kPerAudioSec: 10, sigma: 0.6, weight: 2, assumedAudioSec: 60 };

/** The estimate follows the provider: older renders weigh as if there were at most this many. */
export const MAX_STATS_WEIGHT = 100;

/** Adds one finished render to the provider's stats (Welford's update, weight capped). */
export function addRenderSample(
  current: ProviderStats | null,
  provider: string,
  sample: { renderSec: number; audioSec: number },
  now: string,
): ProviderStats {
  if (!(sample.renderSec > 0) || !(sample.audioSec > 0)) {
    return current ?? { provider, samples: 0, meanLogK: 0, m2LogK: 0, updatedAt: now };
  }
  const x = Math.log(sample.renderSec / sample.audioSec);
  const previous = current && current.samples > 0 ? current : { provider, samples: 0, meanLogK: 0, m2LogK: 0, updatedAt: now };
  // Past the cap, scale the old sums down so one more render keeps a weight of 1/MAX_STATS_WEIGHT.
  const n0 = Math.min(previous.samples, MAX_STATS_WEIGHT - 1);
  const m2 = previous.samples > 0 ? (previous.m2LogK * n0) / previous.samples : 0;
  const n = n0 + 1;
  const delta = x - previous.meanLogK;
  const mean = previous.meanLogK + delta / n;
  return { provider, samples: n, meanLogK: mean, m2LogK: m2 + delta * (x - mean), updatedAt: now };
}

/**
 * The render time to expect for a job with `audioSec` of audio (null: unknown), from the
 * learned stats blended with the prior. The spread includes the uncertainty of the mean itself,
 * so a provider with few renders gets a wide forecast.
 */
export function forecastRender(stats: ProviderStats | null, audioSec: number | null | undefined, prior: RenderPrior = DEFAULT_RENDER_PRIOR): RenderForecast {
  const n = stats?.samples ?? 0;
  const w = prior.weight;
  const priorMu = Math.log(prior.kPerAudioSec);
  const mu = n > 0 ? (w * priorMu + n * stats!.meanLogK) / (w + n) : priorMu;
  const variance = n > 1 ? (w * prior.sigma ** 2 + stats!.m2LogK) / (w + n - 1) : prior.sigma ** 2;
  let sigma = Math.sqrt(variance + variance / (w + n));
  const known = typeof audioSec === 'number' && audioSec > 0;
  // Without the audio's length, the render time is as uncertain as the audio length is.
  if (!known) sigma = Math.sqrt(sigma ** 2 + 0.8 ** 2);
  const seconds = known ? audioSec : prior.assumedAudioSec;
  return { medianSec: Math.exp(mu) * seconds, sigma };
}

/**
 * A provider's own progress figure narrows the forecast: with `percent` done after
 * `elapsedSec`, a render going at the same pace ends at elapsed × 100 / percent. The further it
 * is, the more that figure is trusted.
 */
export function refineWithProgress(forecast: RenderForecast, elapsedSec: number, percent: number | undefined): RenderForecast {
  if (percent === undefined || !(percent > 0) || percent >= 100 || !(elapsedSec > 0)) return forecast;
  const paceMedian = (elapsedSec * 100) / percent;
  const trust = percent / 100;
  const paceSigma = 0.05 + 0.5 * (1 - trust);
  // Combine the two lognormal estimates by precision.
  const a = 1 / forecast.sigma ** 2;
  const b = 1 / paceSigma ** 2;
  const mu = (a * Math.log(forecast.medianSec) + b * Math.log(paceMedian)) / (a + b);
  return { medianSec: Math.max(Math.exp(mu), elapsedSec), sigma: Math.sqrt(1 / (a + b)) };
}

/** Settings of the schedule. */
export interface PollScheduleSettings {
  /** Never closer than the provider allows (VisionStory: 5 s). */
  minIntervalSec: number;
  /** Never further apart than this while the forecast is in play. */
  maxIntervalSec: number;
  /** Once the forecast says the render should long be over, poll on this fixed cadence. */
  fallbackIntervalSec: number;
  /**
   * Density: a gap of d seconds is allowed where d² × (chance per second that the render ends
   * there, given it has not yet) ≤ density². Smaller is denser: less delay, more polls.
   */
  density: number;
}

/**
 * The density used in production: chosen with `npm run bench -- polls`, where it halves both
 * the polls and the detection delay of the fixed schedule on renders whose time per audio
 * second is known within about ±5 %.
 */
export const DEFAULT_POLL_DENSITY = 1.6;

/** Standard normal CDF (Abramowitz–Stegun 7.1.26, error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

function lognormalPdf(t: number, f: RenderForecast): number {
  if (t <= 0) return 0;
  const z = (Math.log(t) - Math.log(f.medianSec)) / f.sigma;
  return Math.exp(-0.5 * z * z) / (t * f.sigma * Math.sqrt(2 * Math.PI));
}

/** Chance that the render is still going at `t` seconds. */
export function survival(t: number, f: RenderForecast): number {
  if (t <= 0) return 1;
  return 1 - normalCdf((Math.log(t) - Math.log(f.medianSec)) / f.sigma);
}

/**
 * Seconds until the next poll, `elapsedSec` after the video was requested, the render not
 * finished yet. Spacing follows the classic inspection rule (gap ∝ 1/√density): the gap is the
 * largest d in [min, max] such that d × √(the conditional density anywhere in the gap) ≤
 * `density`. Far before the forecast the density is tiny and the gap is the maximum, but never
 * so long that it jumps over the start of the likely window; around the forecast polls come
 * every few seconds. When the forecast is exhausted (the render is later than almost all
 * forecasts allowed), the fixed fallback cadence takes over.
 */
export function forecastPollDelaySec(forecast: RenderForecast, elapsedSec: number, settings: PollScheduleSettings): number {
  const { minIntervalSec: min, maxIntervalSec: max } = settings;
  const alive = survival(elapsedSec, forecast);
  if (alive < 1e-3) return clamp(settings.fallbackIntervalSec, min, Math.max(min, max));
  const fits = (d: number): boolean => {
    let peak = 0;
    for (let i = 0; i <= 8; i++) peak = Math.max(peak, lognormalPdf(elapsedSec + (d * i) / 8, forecast));
    return d * Math.sqrt(peak / alive) <= settings.density;
  };
  if (fits(max)) return max;
  if (!fits(min)) return min;
  let lo = min;
  let hi = max;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return Math.round(lo * 10) / 10;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(Math.max(x, lo), hi);
}

/** A render time drawn from lognormal(k × audio seconds, sigma): the simulator's and the bench's jobs. */
export interface RenderTimeDistribution {
  kPerAudioSec: number;
  sigma: number;
}

/** Draws one render time (seconds); `random` gives uniform numbers in [0, 1). */
export function sampleRenderSec(audioSec: number, dist: RenderTimeDistribution, random: () => number): number {
  // Box–Muller.
  const u = Math.max(random(), Number.EPSILON);
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return dist.kPerAudioSec * audioSec * Math.exp(dist.sigma * z);
}

/** A small seeded generator (mulberry32), so two schedules can be compared on the same jobs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
