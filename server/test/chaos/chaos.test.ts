import { EXPECTED_FAILURE_CODES, formatTable, runChaos } from '../../../chaos/harness';

// The chaos suite (npm run chaos) in a reduced size: the real stack as a child process, killed
// with SIGKILL at random moments and restarted on the same and other ports, every task
// delivered two or three times, the VisionStory simulator answering 5xx, 429 bursts, slow and
// hung answers and a 10-minute outage on a fast clock, and a burst over the per-user limit.
// The seed is fixed so a failure replays with `npm run chaos -- --seed <seed> --jobs 8 --kills 2`.

const SEED = Number(process.env.CHAOS_SEED ?? 20260),
  LIMIT = 3;

test(
  'under kill -9, restarts on other ports, duplicate deliveries and provider trouble, every job ends, none twice made, and a burst creates only the limit',
  async () => {
    const result = await runChaos({ seed: SEED, jobs: 8, kills: 2, burst: 10, limit: LIMIT, maxRunMs: 80_000 });
    const table = formatTable(result);
    // Shown on failure: the table and the seed to replay.
    const context = `seed ${SEED}\n${table}\n${JSON.stringify({ stuck: result.stuck, dup: [...result.duplicateAvatars, ...result.duplicateVideos], failures: result.unexpectedFailures })}`;

    expect({ context, stuck: result.stuck }).toEqual({ context, stuck: [] });
    expect({ context, duplicateAvatars: result.duplicateAvatars, duplicateVideos: result.duplicateVideos }).toEqual({
      context,
      duplicateAvatars: [],
      duplicateVideos: [],
    });
    // Every job ended: completed, or failed with a code the faults explain.
    expect(result.completed + result.cancelled + Object.values(result.failedByCode).reduce((a, b) => a + b, 0)).toBe(result.jobsInStore);
    expect(result.unexpectedFailures).toEqual([]);
    for (const code of Object.keys(result.failedByCode)) expect(EXPECTED_FAILURE_CODES.has(code)).toBe(true);
    expect(result.accepted).toBeGreaterThan(LIMIT);
    expect(result.kills).toBe(2);
    expect(result.restarts.samePort + result.restarts.otherPort).toBe(2);
    expect(result.injected['outage (10 min)']).toBe(1);
    // The burst: exactly the limit created, 429 for the rest, nothing left behind.
    expect({ context, burst: result.burst }).toEqual({
      context,
      burst: { sent: 10, created: LIMIT, refused429: 10 - LIMIT, other: {}, leftoverUploads: 0, ok: true },
    });
  },
  150_000,
);
