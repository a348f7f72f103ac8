/**
 * npm run chaos [-- --jobs N --kills N --seed N --burst N --limit N --quick --keep]
 *
 * Runs the chaos harness (chaos/harness.ts) once against the real local stack on 127.0.0.1,
 * prints the table, and exits 1 when a job is stuck, a provider creation was duplicated, a job
 * failed with an unexpected code, or the burst broke the per-user limit. Bounded in time and in
 * count; stops by itself.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, formatTable, passed, runChaos, type ChaosOptions } from './harness';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string' },
    kills: { type: 'string' },
    seed: { type: 'string' },
    burst: { type: 'string' },
    limit: { type: 'string' },
    'max-seconds': { type: 'string' },
    quick: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write('usage: npm run chaos -- [--jobs 30] [--kills 6] [--seed N] [--burst 40] [--limit 5] [--max-seconds 240] [--quick] [--keep]\n');
  process.exit(0);
}

function int(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name}: a whole number ≥ 0, not "${value}"\n`);
    process.exit(2);
  }
  return n;
}

const base: ChaosOptions = values.quick ? { ...DEFAULT_OPTIONS, jobs: 10, kills: 3, burst: 15, maxRunMs: 120_000 } : DEFAULT_OPTIONS;
const options: ChaosOptions = {
  ...base,
  jobs: int('jobs', values.jobs, base.jobs),
  kills: int('kills', values.kills, base.kills),
  seed: int('seed', values.seed, Math.floor(Math.random() * 2 ** 31)),
  burst: int('burst', values.burst, base.burst),
  limit: Math.max(1, int('limit', values.limit, base.limit)),
  maxRunMs: values['max-seconds'] !== undefined ? int('max-seconds', values['max-seconds'], 0) * 1000 : base.maxRunMs,
  keep: values.keep,
  log: (line) => process.stdout.write(`  ${line}\n`),
};

process.stdout.write(`chaos run, seed ${options.seed} (replay with --seed ${options.seed}): ${options.jobs} jobs, ${options.kills} kills, burst ${options.burst} over a limit of ${options.limit}\n`);
runChaos(options).then(
  (result) => {
    process.stdout.write(`\n${formatTable(result)}\n\n`);
    for (const s of result.stuck) process.stdout.write(`stuck: ${s}\n`);
    for (const d of [...result.duplicateAvatars, ...result.duplicateVideos]) process.stdout.write(`duplicate: ${d}\n`);
    for (const f of result.unexpectedFailures) process.stdout.write(`unexpected failure: ${f.jobId} ${f.code}: ${f.message}\n`);
    if (!result.burst.ok) process.stdout.write(`burst: the per-user limit did not hold (${JSON.stringify(result.burst)})\n`);
    if (options.keep) process.stdout.write(`work dir kept: ${result.workDir}\n`);
    const ok = passed(result);
    process.stdout.write(ok ? 'chaos: nothing stuck, nothing duplicated\n' : `chaos: FAILED (seed ${result.seed})\n`);
    process.exit(ok ? 0 : 1);
  },
  (err: unknown) => {
    process.stderr.write(`chaos: the run itself failed (seed ${options.seed}): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(2);
  },
);
