import type { PipelineSettings } from '../../src/pipeline/decisions';

/** Pipeline settings on the product's scale (seconds to hours), for tests that move a clock by hand. */
export const PIPELINE_SETTINGS: PipelineSettings = {
  pollScheduleSec: [5, 15, 30, 60],
  pollMaxIntervalSec: 60,
  stepLeaseSec: 120,
  jobDeadlineSec: 24 * 3600,
  maxAttempts: 3,
  providerRetryWindowSec: 6 * 3600,
  providerRetryMinBackoffSec: 10,
  providerRetryMaxBackoffSec: 600,
};
