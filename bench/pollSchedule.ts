import { applyOutcome, newJob, renderSampleOf, type PipelineSettings } from '../server/src/pipeline/decisions';
import {
  addRenderSample,
  DEFAULT_POLL_DENSITY,
  forecastRender,
  sampleRenderSec,
  seededRandom,
  type ProviderStats,
  type RenderTimeDistribution,
} from '../server/src/pipeline/pollForecast';
import type { Job } from '../server/src/domain/job';
import { fmt, type BenchRow } from './support';

/** Options of {@link runPollScheduleBench}. */
export interface PollScheduleBenchOptions {
  jobs?: number;
  /** The simulated provider: render seconds ~ lognormal(k × audio seconds, sigma). */
  distribution?: RenderTimeDistribution;
  /** Other spreads, reported as information (where the target stops holding). */
  moreSigmas?: number[];
  log?: (line: string) => void;
}

interface ScheduleResult {
  polls: number[];
  delays: number[];
  /** Billed worker seconds: each poll request rounded up to 100 ms (a poll takes a few ms). */
  billedSec: number;
}

const SETTINGS: PipelineSettings = {
  pollScheduleSec: [5, 15, 30, 60],
  pollMaxIntervalSec: 60,
  stepLeaseSec: 120,
  jobDeadlineSec: 7 * 24 * 3600,
  maxAttempts: 3,
  providerRetryWindowSec: 6 * 3600,
  providerRetryMinBackoffSec: 10,
  providerRetryMaxBackoffSec: 600,
  pollForecast: null,
};

/**
 * Plays one job through the pipeline's own decisions (applyOutcome) on a simulated clock: the
 * video is requested at t = 0, each poll finds it running until `renderSec`, then ready.
 * Returns the polls made, the detection delay, and the job as the pipeline left it.
 */
function playJob(renderSec: number, audioSec: number, settings: PipelineSettings, stats: ProviderStats | null, index: number) {
  const t0 = Date.parse('2025-03-01T00:00:00.000Z') + index * 86_400_000;
  const iso = (sec: number): string => new Date(t0 + sec * 1000).toISOString();
  let job: Job = newJob({
    jobId: `job-${index}`,
    ownerUid: 'bench',
    input: { imagePath: 'i', audioPath: 'a', imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'x', instructorBio: '', audioDurationSec: audioSec },
    providerName: 'visionstory',
    now: iso(0),
  });
  job = { ...job, progress: { ...job.progress, currentStep: 'video.create' } };
  const forecast = settings.pollForecast ? forecastRender(stats, audioSec) : null;
  let t = applyOutcome(job, { kind: 'video_requested', videoId: 'v', forecast }, iso(0), settings);
  let clock = 0;
  let polls = 0;
  for (;;) {
    clock += t.next!.delaySec;
    polls++;
    if (clock >= renderSec) {
      const sample = renderSampleOf(t.job, iso(clock));
      return { polls, delay: clock - renderSec, sample };
    }
    t = applyOutcome(t.job, { kind: 'video_pending', providerStatus: 'creating' }, iso(clock), settings);
  }
}

function runSchedule(renders: { renderSec: number; audioSec: number }[], settings: PipelineSettings): ScheduleResult & { stats: ProviderStats | null } {
  let stats: ProviderStats | null = null;
  const polls: number[] = [];
  const delays: number[] = [];
  renders.forEach((r, i) => {
    const played = playJob(r.renderSec, r.audioSec, settings, stats, i);
    polls.push(played.polls);
    delays.push(played.delay);
    // Jobs end one after another: each finished render teaches the next forecast.
    if (played.sample) stats = addRenderSample(stats, 'visionstory', played.sample, new Date().toISOString());
  });
  return { polls, delays, billedSec: polls.reduce((a, b) => a + b, 0) * 0.1, stats };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function drawRenders(count: number, dist: RenderTimeDistribution, seed: number) {
  const random = seededRandom(seed);
  // Voice recordings of 30 s to 5 min.
  return Array.from({ length: count }, () => {
    const audioSec = 30 + random() * 270;
    return { audioSec, renderSec: sampleRenderSec(audioSec, dist, random) };
  });
}

/**
 * Predictive polling against today's fixed schedule, on the same simulated jobs: the pipeline's
 * pure decisions (applyOutcome) are played on a simulated clock, so 200 renders of 5 to 60
 * minutes take well under a second. The forecast starts from the prior and learns from each
 * finished job, as the job store's provider stats do in production.
 */
export async function runPollScheduleBench(options: PollScheduleBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? (() => undefined);
  const count = options.jobs ?? 200;
  const dist = options.distribution ?? { kPerAudioSec: 12, sigma: 0.05 };
  const predictive: PipelineSettings = {
    ...SETTINGS,
    pollForecast: { minIntervalSec: 5, maxIntervalSec: 600, fallbackIntervalSec: 60, density: DEFAULT_POLL_DENSITY },
  };
  const compare = (d: RenderTimeDistribution) => {
    const renders = drawRenders(count, d, 14);
    const fixed = runSchedule(renders, SETTINGS);
    const smart = runSchedule(renders, predictive);
    return { renders, fixed, smart };
  };
  const { renders, fixed, smart } = compare(dist);
  const pollRatio = mean(smart.polls) / mean(fixed.polls);
  const delayRatio = mean(smart.delays) / mean(fixed.delays);
  const meanRenderMin = mean(renders.map((r) => r.renderSec)) / 60;
  log(
    `polls: ${count} jobs, renders ${fmt(meanRenderMin)} min on average (k ${dist.kPerAudioSec} s per audio second, sigma ${dist.sigma}); ` +
      `fixed ${fmt(mean(fixed.polls))} polls/job, ${fmt(mean(fixed.delays))} s delay; ` +
      `predictive ${fmt(mean(smart.polls))} polls/job, ${fmt(mean(smart.delays))} s delay; learned k ${fmt(Math.exp(smart.stats?.meanLogK ?? 0), 2)}`,
  );
  const rows: BenchRow[] = [
    {
      target: `polls per job, predictive vs fixed (${count} simulated renders, σ ${dist.sigma})`,
      measured: `${fmt(mean(smart.polls))} vs ${fmt(mean(fixed.polls))} (${fmt(pollRatio * 100, 0)} %)`,
      goal: '≤ 50 %',
      pass: pollRatio <= 0.5,
      detail: { fixedPolls: mean(fixed.polls), predictivePolls: mean(smart.polls), meanRenderSec: meanRenderMin * 60, distribution: dist },
    },
    {
      target: `mean delay from render end to detection, predictive vs fixed (same jobs)`,
      measured: `${fmt(mean(smart.delays))} s vs ${fmt(mean(fixed.delays))} s (${fmt(delayRatio * 100, 0)} %)`,
      goal: '≤ 50 %',
      pass: delayRatio <= 0.5,
      detail: { fixedDelaySec: mean(fixed.delays), predictiveDelaySec: mean(smart.delays), maxPredictiveDelaySec: Math.max(...smart.delays) },
    },
  ];
  const renderHours = renders.reduce((a, r) => a + r.renderSec, 0) / 3600;
  rows.push({
    target: 'billed worker seconds per provider-hour, predictive vs fixed (each poll rounded up to 100 ms)',
    measured: `${fmt(smart.billedSec / renderHours, 2)} s vs ${fmt(fixed.billedSec / renderHours, 2)} s`,
    goal: '(information)',
    pass: null,
  });
  for (const sigma of options.moreSigmas ?? [0.1, 0.25]) {
    const other = compare({ ...dist, sigma });
    rows.push({
      target: `same, renders spread σ ${sigma}: polls / delay, predictive vs fixed`,
      measured:
        `${fmt(mean(other.smart.polls))} vs ${fmt(mean(other.fixed.polls))} polls; ` +
        `${fmt(mean(other.smart.delays))} vs ${fmt(mean(other.fixed.delays))} s`,
      goal: '(information)',
      pass: null,
    });
  }
  return rows;
}
