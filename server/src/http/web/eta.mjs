/*
 * The time left while the provider makes the video, from the job's own progress: the percent
 * the pipeline reports over the time it was reported at (updatedAt, the server's clock), from
 * the first report of the provider step on. No estimate until the percent has moved.
 */

/**
 * @param {{atMs: number, percent: number}[]} samples reports while the provider works, in order
 * @param {number} nowMs the current time, on the same clock as the samples
 * @returns {number|null} milliseconds left, or null while there is nothing to go on
 */
export function estimateRemainingMs(samples, nowMs) {
  if (!samples || samples.length < 2) return null;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const spanMs = last.atMs - first.atMs;
  const gained = last.percent - first.percent;
  if (spanMs <= 0 || gained <= 0) return null;
  const msPerPercent = spanMs / gained;
  const left = (100 - last.percent) * msPerPercent - Math.max(0, nowMs - last.atMs);
  return Math.max(0, Math.round(left));
}

/** The estimate in words, through the page's translator `t`. */
export function describeRemaining(ms, t) {
  if (ms === null || ms === undefined) return t('eta.estimating');
  const minutes = Math.ceil(ms / 60000);
  if (ms < 60000) return t('eta.lessThanMinute');
  if (minutes < 60) return t('eta.minutes', { n: minutes });
  return t('eta.hours', { h: Math.floor(minutes / 60), m: minutes % 60 });
}
