import { applyOutcome, newJob, nextPollDelaySec, renderSampleOf, type PipelineSettings } from '../../src/pipeline/decisions';
import {
  addRenderSample,
  DEFAULT_RENDER_PRIOR,
  forecastPollDelaySec,
  forecastRender,
  refineWithProgress,
  sampleRenderSec,
  seededRandom,
  survival,
  type PollScheduleSettings,
  type ProviderStats,
} from '../../src/pipeline/pollForecast';
import type { Job } from '../../src/domain/job';

const schedule: PollScheduleSettings = { minIntervalSec: 5, maxIntervalSec: 600, fallbackIntervalSec: 60, density: 1.6 };

function learned(k: number, sigma: number, n: number): ProviderStats {
  const random = seededRandom(7);
  let stats: ProviderStats | null = null;
  for (let i = 0; i < n; i++) {
    const audioSec = 60 + random() * 120;
    stats = addRenderSample(stats, 'visionstory', { renderSec: sampleRenderSec(audioSec, { kPerAudioSec: k, sigma }, random), audioSec }, '2025-03-01T00:00:00.000Z');
  }
  return stats!;
}

describe('render forecast', () => {
  test('before any history the forecast is the prior: k × audio seconds, wide', () => {
    const f = forecastRender(null, 100);
    expect(f.medianSec).toBeCloseTo(DEFAULT_RENDER_PRIOR.kPerAudioSec * 100, 5);
    expect(f.sigma).toBeGreaterThan(0.6);
  });

  test('after 100 renders at k = 12 ± 5 %, the forecast is 12 s per audio second and narrow', () => {
    const f = forecastRender(learned(12, 0.05, 100), 100);
    expect(f.medianSec / 100).toBeGreaterThan(11.7);
    expect(f.medianSec / 100).toBeLessThan(12.3);
    expect(f.sigma).toBeLessThan(0.12);
  });

  test('a job that does not know its audio length gets a much wider forecast', () => {
    const stats = learned(12, 0.05, 50);
    expect(forecastRender(stats, null).sigma).toBeGreaterThan(forecastRender(stats, 100).sigma * 4);
  });

  test('the learned weight is capped, so the estimate follows a provider that became slower', () => {
    let stats = learned(10, 0.02, 300);
    expect(stats.samples).toBeLessThanOrEqual(100);
    for (let i = 0; i < 100; i++) stats = addRenderSample(stats, 'visionstory', { renderSec: 2000, audioSec: 100 }, '2025-03-02T00:00:00.000Z');
    expect(Math.exp(stats.meanLogK)).toBeGreaterThan(15);
  });

  test('a render sample with no length is ignored', () => {
    const stats = learned(12, 0.05, 5);
    expect(addRenderSample(stats, 'visionstory', { renderSec: 0, audioSec: 60 }, 'x')).toBe(stats);
  });

  test("the provider's percent pulls the forecast to the pace it shows", () => {
    const prior = { medianSec: 1000, sigma: 0.5 };
    // 50 % after 300 s: at that pace the render ends at 600 s.
    const refined = refineWithProgress(prior, 300, 50);
    expect(refined.medianSec).toBeGreaterThan(600);
    expect(refined.medianSec).toBeLessThan(750);
    expect(refined.sigma).toBeLessThan(prior.sigma);
    expect(refineWithProgress(prior, 300, undefined)).toBe(prior);
  });
});

describe('poll schedule around the forecast', () => {
  const forecast = { medianSec: 1800, sigma: 0.05 };

  test('long before the likely end, polls are sparse, capped by the maximum interval', () => {
    expect(forecastPollDelaySec(forecast, 0, schedule)).toBe(600);
  });

  test('a sparse gap never jumps over the start of the likely window', () => {
    const delay = forecastPollDelaySec(forecast, 1200, schedule);
    expect(delay).toBeLessThan(600);
    expect(survival(1200 + delay, forecast)).toBeGreaterThan(0.99);
  });

  test('around the predicted end, polls come every few seconds, never closer than the minimum', () => {
    const delay = forecastPollDelaySec(forecast, 1800, schedule);
    expect(delay).toBeGreaterThanOrEqual(5);
    expect(delay).toBeLessThan(30);
    expect(forecastPollDelaySec({ medianSec: 1800, sigma: 0.001 }, 1800, schedule)).toBe(5);
  });

  test('a render later than the forecast allowed falls back to the fixed cadence', () => {
    expect(forecastPollDelaySec(forecast, 3600, schedule)).toBe(60);
  });
});

describe('predictive polling in the pipeline decisions', () => {
  const settings: PipelineSettings = {
    pollScheduleSec: [5, 15, 30, 60],
    pollMaxIntervalSec: 60,
    stepLeaseSec: 120,
    jobDeadlineSec: 86400,
    maxAttempts: 3,
    providerRetryWindowSec: 3600,
    providerRetryMinBackoffSec: 10,
    providerRetryMaxBackoffSec: 600,
    pollForecast: schedule,
  };
  const at = (sec: number) => new Date(Date.parse('2025-03-01T10:00:00.000Z') + sec * 1000).toISOString();
  const job = (): Job => {
    const j = newJob({
      jobId: 'j1',
      ownerUid: 'u',
      input: { imagePath: 'i', audioPath: 'a', imageType: 'image/jpeg', audioType: 'audio/wav', instructorName: 'n', instructorBio: '', audioDurationSec: 150 },
      providerName: 'visionstory',
      now: at(0),
    });
    return { ...j, progress: { ...j.progress, currentStep: 'video.create' } };
  };

  test('when the video is requested, the forecast and request time are kept and the first poll follows it', () => {
    const t = applyOutcome(job(), { kind: 'video_requested', videoId: 'v1', forecast: { medianSec: 1800, sigma: 0.05 } }, at(0), settings);
    expect(t.job.provider.forecast).toEqual({ medianSec: 1800, sigma: 0.05 });
    expect(t.job.provider.requestedAt).toBe(at(0));
    expect(t.next?.delaySec).toBe(600);
  });

  test('with predictive polling off, or no forecast, the fixed schedule applies', () => {
    const off = applyOutcome(job(), { kind: 'video_requested', videoId: 'v1', forecast: { medianSec: 1800, sigma: 0.05 } }, at(0), { ...settings, pollForecast: null });
    expect(off.next?.delaySec).toBe(5);
    const none = applyOutcome(job(), { kind: 'video_requested', videoId: 'v1' }, at(0), settings);
    expect(none.next?.delaySec).toBe(5);
  });

  test('a poll that finds the video running records when, and the next one is dense near the forecast', () => {
    const requested = applyOutcome(job(), { kind: 'video_requested', videoId: 'v1', forecast: { medianSec: 1800, sigma: 0.05 } }, at(0), settings);
    const pending = applyOutcome({ ...requested.job, progress: { ...requested.job.progress } }, { kind: 'video_pending', providerStatus: 'creating' }, at(1790), settings);
    expect(pending.job.provider.checkedAt).toBe(at(1790));
    expect(pending.next!.delaySec).toBeLessThan(30);
    expect(nextPollDelaySec(pending.job.provider, at(1790), undefined, settings)).toBe(pending.next!.delaySec);
  });

  test('the learned render time is the middle of the last busy poll and the ready one', () => {
    const requested = applyOutcome(job(), { kind: 'video_requested', videoId: 'v1', forecast: { medianSec: 1800, sigma: 0.05 } }, at(0), settings);
    const pending = applyOutcome(requested.job, { kind: 'video_pending', providerStatus: 'creating' }, at(1790), settings);
    expect(renderSampleOf(pending.job, at(1800))).toEqual({ renderSec: 1795, audioSec: 150 });
    const noAudio = { ...pending.job, input: { ...pending.job.input, audioDurationSec: null } };
    expect(renderSampleOf(noAudio, at(1800))).toBeNull();
  });
});
