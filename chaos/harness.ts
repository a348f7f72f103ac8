import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AvatarClient } from '../clients/avatarClient';
import { runFfmpeg } from '../server/src/adapters/localRender/ffmpeg';
import { seededRandom } from '../server/src/pipeline/pollForecast';
import { startVisionStorySimulator, type VisionStorySimulator } from '../server/standins/visionStorySimulator';

/**
 * The chaos harness: the real local stack as a child process (`tsx server/src/main.ts`, SQLite,
 * the embedded Cloud Tasks emulator, PROVIDER=visionstory against the simulator, which runs here
 * so its failures can be steered and its creations counted), under faults:
 *
 * - a burst of uploads from one user over MAX_ACTIVE_JOBS_PER_USER;
 * - kill -9 of the whole stack at random moments during uploads and steps, restarts on the same
 *   and on a different port;
 * - every task delivered two or three times (TASKS_EMULATOR_EXTRA_DELIVERIES 1 or 2, drawn at
 *   each start);
 * - provider 5xx, 429 bursts, slow and hung answers, and a 10-minute outage on a fast clock.
 *
 * Then the faults stop and the harness waits (bounded) for every job to end. Everything is on
 * 127.0.0.1; the randomness comes from one seed, printed, so a failing run can be replayed.
 */

export interface ChaosOptions {
  /** Jobs uploaded during the chaos phase (the burst adds up to `limit` more). */
  jobs: number;
  /** kill -9 of the stack during the chaos phase. */
  kills: number;
  seed: number;
  /** Uploads of the burst (from one user), against MAX_ACTIVE_JOBS_PER_USER = `limit`. */
  burst: number;
  limit: number;
  /**
   * Real seconds per represented minute: the provider retry window and backoffs, the outage and
   * the sweep are scaled by it. 0.5 means a 10-minute outage lasts 5 s.
   */
  secondsPerMinute: number;
  /** Upper bound on the whole run; the drain gives up (and counts stuck jobs) past it. */
  maxRunMs: number;
  /** Extra output (child logs are always in the work dir). */
  log?: (line: string) => void;
  /** Keep the work dir (data, child logs) for a look after the run. */
  keep?: boolean;
}

export const DEFAULT_OPTIONS: ChaosOptions = {
  jobs: 30,
  kills: 6,
  seed: 1,
  burst: 40,
  limit: 5,
  secondsPerMinute: 0.5,
  maxRunMs: 240_000,
};

/** Codes with which a job may fail under these faults and still count as handled. */
export const EXPECTED_FAILURE_CODES = new Set<string>();

export interface ChaosResult {
  seed: number;
  options: ChaosOptions;
  burst: { sent: number; created: number; refused429: number; other: Record<string, number>; leftoverUploads: number; ok: boolean };
  /** Uploads answered 202. */
  accepted: number;
  /** Uploads cut by a kill (no answer): their job may or may not exist. */
  uploadsCut: number;
  /** Jobs found in the store at the end (accepted plus those saved before a kill cut the answer). */
  jobsInStore: number;
  completed: number;
  failedByCode: Record<string, number>;
  cancelled: number;
  stuck: string[];
  /** Jobs whose photo made more than one avatar, or whose audio more than one video. */
  duplicateAvatars: string[];
  /** Avatars made again because an earlier answer was lost to a kill or a timeout (no idempotency key for avatars). */
  avatarsAfterLostAnswer: number;
  duplicateVideos: string[];
  /** Accepted jobs that ended failed with a code outside EXPECTED_FAILURE_CODES. */
  unexpectedFailures: { jobId: string; code: string; message: string }[];
  kills: number;
  restarts: { samePort: number; otherPort: number };
  /** Longest time from a restart's spawn to /health 200. */
  maxRestartToHealthyMs: number;
  /** From the end of the last fault until every job had ended. */
  recoverMs: number | null;
  injected: Record<string, number>;
  providerCalls: Record<string, number>;
  durationMs: number;
  workDir: string;
}

// ---------------------------------------------------------------------------- small tools


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Media {
  image: Buffer;
  audio: Buffer;
}

/** A distinct photo and voice per job (so the simulator's counts can be told apart by content). */
async function makeMedia(dir: string, i: number): Promise<Media> {
  const image = path.join(dir, `face-${i}.png`);
  const audio = path.join(dir, `voice-${i}.wav`);
  await runFfmpeg(['-y', '-f', 'lavfi', '-i', `testsrc=size=${320 + 2 * (i % 50)}x${320 + 2 * Math.floor(i / 50)}:rate=1`, '-frames:v', '1', '-c:v', 'png', image], {
    timeoutMs: 30_000,
  });
  await runFfmpeg(['-y', '-f', 'lavfi', '-i', `sine=frequency=${200 + i}:sample_rate=16000:duration=1.5`, '-c:a', 'pcm_s16le', audio], { timeoutMs: 30_000 });
  return { image: await fs.readFile(image), audio: await fs.readFile(audio) };
}

// ---------------------------------------------------------------------------- the stack

interface Stack {
  child: ChildProcess;
  port: number;
  base: string;
  exited: Promise<void>;
}

class StackControl {
  current: Stack | undefined;
  starts = 0;
  maxHealthyMs = 0;

  constructor(
    private readonly repoRoot: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly random: () => number,
  ) {}

  async start(port: number): Promise<Stack> {
    this.starts += 1;
    const extra = this.random() < 0.5 ? 1 : 2; // every task delivered two or three times
    const logFile = path.join(this.logDir, `stack-${this.starts}-port-${port}.log`);
    const out = createWriteStream(logFile);
    const began = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
      cwd: this.repoRoot,
      env: { ...this.env, PORT: String(port), TASKS_EMULATOR_EXTRA_DELIVERIES: String(extra) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const stack: Stack = { child, port, base: `http://127.0.0.1:${port}`, exited };
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the stack exited at start (see ${logFile})`);
      try {
        const res = await fetch(`${stack.base}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the stack did not answer /health within 60 s (see ${logFile})`);
      await sleep(50);
    }
    this.maxHealthyMs = Math.max(this.maxHealthyMs, Date.now() - began);
    // Uploads go to the stack only once it answers: a refused connection is not a cut upload.
    this.current = stack;
    return stack;
  }

  async kill9(): Promise<void> {
    const stack = this.current;
    if (!stack) return;
    stack.child.kill('SIGKILL');
    await stack.exited;
    this.current = undefined;
  }

  async stop(): Promise<void> {
    await this.kill9();
  }
}

// ---------------------------------------------------------------------------- the client side

async function uploadJob(base: string, user: string, media: Media, name: string): Promise<{ status: number; code?: string; jobId?: string } | 'cut'> {
  try {
    const answer = await new AvatarClient(base, { headers: { 'X-User-Id': user } }).postJob(
      [
        { name: 'image', filename: 'face.png', contentType: 'image/png', data: media.image },
        { name: 'audio', filename: 'voice.wav', contentType: 'audio/wav', data: media.audio },
        { name: 'instructorName', value: name },
        { name: 'instructorBio', value: 'chaos run' },
      ],
      { signal: AbortSignal.timeout(15_000) },
    );
    const body = JSON.parse(answer.body) as { jobId?: string; error?: { code: string } };
    return { status: answer.status, code: body.error?.code, jobId: body.jobId };
  } catch {
    return 'cut';
  }
}

interface SeenJob {
  jobId: string;
  status: string;
  error?: { code: string; message: string };
}

/** Every job of `user` in the store, through GET /jobs (all pages). */
function listJobs(base: string, user: string): Promise<SeenJob[]> {
  return new AvatarClient(base, { headers: { 'X-User-Id': user } }).listAll<SeenJob>(50, { signal: AbortSignal.timeout(10_000) });
}

async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    // Each blob has a `.meta.json` beside it (content type, sha256): count the blobs.
    return entries.filter((e) => e.isFile() && !e.name.endsWith('.meta.json')).length;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------- the run

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const options: ChaosOptions = { ...DEFAULT_OPTIONS, ...partial };
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const started = Date.now();
  const hardDeadline = started + options.maxRunMs;
  const repoRoot = path.resolve(__dirname, '..');
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'avatar-chaos-'));
  const dataDir = path.join(workDir, 'data');
  const mediaDir = path.join(workDir, 'media');
  await fs.mkdir(mediaDir, { recursive: true });

  // The fast clock: one represented minute lasts `secondsPerMinute` real seconds.
  const minute = options.secondsPerMinute;
  const sim: VisionStorySimulator = await startVisionStorySimulator({
    apiKey: 'chaos-key',
    latencyMs: 1500,
    render: false,
  });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: workDir,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    PROVIDER: 'visionstory',
    VISIONSTORY_API_BASE: sim.baseUrl,
    VISIONSTORY_API_KEY: 'chaos-key',
    // A hung answer is given up after 5 s; the lease outlives it, as the config demands. (Much
    // shorter and a loaded machine's slow-but-successful avatar answers time out too: VisionStory's
    // avatar call takes no idempotency key, so each of those makes a second avatar.)
    VISIONSTORY_TIMEOUT: '5',
    STEP_LEASE: '6',
    POLL_SCHEDULE: '0.3,0.5',
    POLL_MAX_INTERVAL: '0.5',
    // Predictive polling (on with VisionStory) on the fast clock too: never closer than 0.3 s,
    // never further apart than 2 s (in real time 5 s and 10 min).
    POLL_MIN_INTERVAL: '0.3',
    POLL_FORECAST_MAX_INTERVAL: '2',
    TASK_MIN_BACKOFF: '0.2',
    TASK_MAX_BACKOFF: '1',
    // Provider retries: the 6 h window, 10 s and 10 min backoffs, on the fast clock.
    PROVIDER_RETRY_WINDOW: String(360 * minute),
    PROVIDER_RETRY_MIN_BACKOFF: String((10 / 60) * minute),
    PROVIDER_RETRY_MAX_BACKOFF: String(Math.max(10 * minute, (10 / 60) * minute)),
    SWEEP_INTERVAL: '1',
    SWEEP_GRACE: '0.5',
    MAX_ACTIVE_JOBS_PER_USER: String(options.limit),
    RETENTION_SWEEP_INTERVAL: '0',
    SHUTDOWN_GRACE_MS: '500',
  };
  const stacks = new StackControl(repoRoot, env, workDir, random);
  const injected: Record<string, number> = {};
  const count = (k: string) => (injected[k] = (injected[k] ?? 0) + 1);

  const accepted = new Map<string, { user: string; image: string; audio: string }>();
  const users = new Set<string>();
  /** sha256 of photo and audio → job (for every job uploaded, accepted or cut). */
  const mediaOf = new Map<string, { image: string; audio: string }>();
  let uploadsCut = 0;
  const restarts = { samePort: 0, otherPort: 0 };
  let kills = 0;
  /** When each kill -9 was sent: an avatar call running then (or just before) lost its answer. */
  const killTimes: number[] = [];
  let lastFaultAt = Date.now();

  try {
    // ------------------------------------------------ media, made before the clock matters
    const total = options.burst + options.jobs;
    const media: Media[] = [];
    for (let i = 0; i < total; i += 8) {
      media.push(...(await Promise.all(Array.from({ length: Math.min(8, total - i) }, (_, k) => makeMedia(mediaDir, i + k)))));
    }
    let port = await freePort();
    await stacks.start(port);
    log(`stack up on port ${port} (work dir ${workDir})`);

    // ------------------------------------------------ 1. a burst over the per-user limit
    const burstUser = 'chaos-burst';
    users.add(burstUser);
    const burstAnswers = await Promise.all(
      media.slice(0, options.burst).map((m, i) => uploadJob(stacks.current!.base, burstUser, m, `Burst ${i}`)),
    );
    const burst = { sent: options.burst, created: 0, refused429: 0, other: {} as Record<string, number>, leftoverUploads: 0, ok: false };
    burstAnswers.forEach((a, i) => {
      if (a === 'cut') burst.other.cut = (burst.other.cut ?? 0) + 1;
      else if (a.status === 202 && a.jobId) {
        burst.created += 1;
        const keys = { image: sha256(media[i].image), audio: sha256(media[i].audio) };
        accepted.set(a.jobId, { user: burstUser, ...keys });
        mediaOf.set(a.jobId, keys);
      } else if (a.status === 429) burst.refused429 += 1;
      else burst.other[String(a.status)] = (burst.other[String(a.status)] ?? 0) + 1;
    });
    const burstJobs = await listJobs(stacks.current!.base, burstUser);
    // Each created job keeps its upload folder (photo, audio, later the prepared photo); a
    // refused upload keeps nothing: count the files in folders of jobs that do not exist.
    const uploadsDir = path.join(dataDir, 'blobs', 'uploads');
    const kept = new Set(burstJobs.map((j) => j.jobId));
    burst.leftoverUploads = 0;
    for (const entry of await fs.readdir(uploadsDir, { withFileTypes: true }).catch(() => [])) {
      if (kept.has(entry.name)) continue;
      burst.leftoverUploads += entry.isDirectory() ? Math.max(1, await countFiles(path.join(uploadsDir, entry.name))) : 1;
    }
    burst.ok = burst.created === options.limit && burstJobs.length === options.limit && burst.refused429 === options.burst - options.limit && burst.leftoverUploads === 0;
    log(`burst: ${burst.created} created, ${burst.refused429} refused with 429, ${burstJobs.length} in the store, ${burst.leftoverUploads} files beyond theirs`);
    for (const j of burstJobs) {
      if (!mediaOf.has(j.jobId)) mediaOf.set(j.jobId, { image: '', audio: '' });
    }

    // ------------------------------------------------ 2. uploads and steps under faults
    let uploadsDone = false;
    const uploader = (async () => {
      for (let i = 0; i < options.jobs; i += 1) {
        const m = media[options.burst + i];
        const user = `chaos-user-${i % Math.max(1, Math.floor(options.jobs / 2))}`;
        users.add(user);
        const keys = { image: sha256(m.image), audio: sha256(m.audio) };
        for (let tries = 0; tries < 40; tries += 1) {
          const stack = stacks.current;
          if (!stack) {
            await sleep(100);
            continue;
          }
          const answer = await uploadJob(stack.base, user, m, `Chaos ${i}`);
          if (answer === 'cut') {
            // The stack died under the upload: the job may have been saved. Its photo and audio
            // are known, so a job made from them is found in the store at the end.
            uploadsCut += 1;
            break;
          }
          if (answer.status === 202 && answer.jobId) {
            accepted.set(answer.jobId, { user, ...keys });
            break;
          }
          // 429 (this user's jobs still running) or 503 (the stack starting): wait and retry.
          await sleep(200);
        }
        await sleep(50 + random() * 250);
      }
      uploadsDone = true;
    })();

    const provider = (async () => {
      // The outage: 10 represented minutes of 503 on every call, once, early in the run.
      await sleep(1000 + random() * 2000);
      sim.inject({ outage: { status: 503, forMs: 10 * minute * 1000 } });
      count('outage (10 min)');
      lastFaultAt = Math.max(lastFaultAt, Date.now() + 10 * minute * 1000);
      await sleep(10 * minute * 1000);
      while (!uploadsDone || kills < options.kills) {
        if (Date.now() > hardDeadline - 30_000) break;
        const r = random();
        if (r < 0.3) {
          const codes = Array.from({ length: 1 + Math.floor(random() * 4) }, () => [500, 502, 503, 504][Math.floor(random() * 4)]);
          sim.inject({ nextStatusCodes: codes });
          count('5xx');
        } else if (r < 0.5) {
          sim.inject({ rateLimitBurst: { count: 3 + Math.floor(random() * 8), retryAfterSec: 1 } });
          count('429 burst');
        } else if (r < 0.75) {
          sim.inject({ slow: { count: 1 + Math.floor(random() * 4), delayMs: 200 + Math.floor(random() * 600) } });
          count('slow answers');
        } else {
          sim.inject({ hang: { count: 1 + Math.floor(random() * 2) } });
          count('hung answers');
        }
        lastFaultAt = Date.now();
        await sleep(300 + random() * 900);
      }
    })();

    const killer = (async () => {
      for (let k = 0; k < options.kills; k += 1) {
        await sleep(700 + random() * 2500);
        if (Date.now() > hardDeadline - 30_000) break;
        killTimes.push(Date.now());
        await stacks.kill9();
        kills += 1;
        lastFaultAt = Date.now();
        await sleep(random() * 500);
        if (random() < 0.5) {
          restarts.samePort += 1;
        } else {
          port = await freePort();
          restarts.otherPort += 1;
        }
        await stacks.start(port);
        lastFaultAt = Date.now();
        log(`kill -9 #${kills}, restarted on port ${port}`);
      }
    })();

    await Promise.all([uploader, provider, killer]);
    // Clear what is left of the injections: from here on the provider behaves.
    sim.inject({ outage: null, rateLimitBurst: { count: 0, retryAfterSec: 0 }, slow: { count: 0, delayMs: 0 }, hang: { count: 0 } });
    lastFaultAt = Math.max(lastFaultAt, Date.now());
    log(`faults over: ${kills} kills, ${accepted.size} jobs accepted; draining`);

    // ------------------------------------------------ 3. drain: every job must end by itself
    let all: SeenJob[] = [];
    let recoverMs: number | null = null;
    for (;;) {
      let seen: SeenJob[] | undefined = [];
      try {
        for (const user of users) seen.push(...(await listJobs(stacks.current!.base, user)));
      } catch (err) {
        // A slow answer on a busy machine is not a verdict: look again, within the bound.
        log(`listing the jobs failed (${(err as Error).message}); trying again`);
        seen = undefined;
      }
      if (seen) all = seen;
      if (seen && all.every((j) => TERMINAL.has(j.status))) {
        recoverMs = Math.max(0, Date.now() - lastFaultAt);
        break;
      }
      if (Date.now() > hardDeadline) break;
      await sleep(250);
    }

    // ------------------------------------------------ 4. the count
    const byImage = new Map<string, string>();
    const byAudio = new Map<string, string>();
    for (const [jobId, keys] of accepted) {
      byImage.set(keys.image, jobId);
      byAudio.set(keys.audio, jobId);
    }
    // VisionStory's avatar call takes no idempotency key: when its answer is lost (the worker
    // killed during the call or before it could save the id, or the call timed out), the retried
    // step makes a second avatar. Such an avatar is counted as lost, not as a duplicate; a
    // duplicate is an avatar made again although every earlier one's answer was delivered.
    const SAVE_WINDOW_MS = 3000;
    const lostAnswer = (c: { startedMs: number; closedMs: number | null; answered: boolean }): boolean =>
      !c.answered || killTimes.some((t) => t >= c.startedMs && t <= (c.closedMs ?? Date.now()) + SAVE_WINDOW_MS);
    let avatarsAfterLostAnswer = 0;
    const duplicateAvatars: string[] = [];
    for (const [k, n] of Object.entries(sim.calls.madeBy.avatars)) {
      if (n < 2) continue;
      const lost = (sim.calls.avatarCalls[k] ?? []).filter(lostAnswer).length;
      avatarsAfterLostAnswer += Math.min(lost, n - 1);
      if (n - 1 > lost) duplicateAvatars.push(`${byImage.get(k) ?? `unacknowledged upload ${k.slice(0, 8)}`} (${n} avatars, ${lost} answers lost)`);
    }
    const duplicateVideos = Object.entries(sim.calls.madeBy.videos)
      .filter(([, n]) => n > 1)
      .map(([k, n]) => `${byAudio.get(k) ?? `unacknowledged upload ${k.slice(0, 8)}`} (${n} videos)`);
    const failedByCode: Record<string, number> = {};
    const unexpectedFailures: ChaosResult['unexpectedFailures'] = [];
    let completed = 0;
    let cancelled = 0;
    for (const j of all) {
      if (j.status === 'completed') completed += 1;
      else if (j.status === 'cancelled') cancelled += 1;
      else if (j.status === 'failed') {
        const code = j.error?.code ?? 'unknown';
        failedByCode[code] = (failedByCode[code] ?? 0) + 1;
        if (!EXPECTED_FAILURE_CODES.has(code)) unexpectedFailures.push({ jobId: j.jobId, code, message: j.error?.message ?? '' });
      }
    }
    const stuck = all.filter((j) => !TERMINAL.has(j.status)).map((j) => `${j.jobId} (${j.status})`);
    // An accepted job missing from the store is lost: count it as stuck.
    const inStore = new Set(all.map((j) => j.jobId));
    for (const jobId of accepted.keys()) if (!inStore.has(jobId)) stuck.push(`${jobId} (missing)`);

    const { madeBy: _madeBy, avatarCalls: _avatarCalls, ...providerCalls } = sim.calls;
    return {
      seed: options.seed,
      options,
      burst,
      accepted: accepted.size,
      uploadsCut,
      jobsInStore: all.length,
      completed,
      failedByCode,
      cancelled,
      stuck,
      duplicateAvatars,
      avatarsAfterLostAnswer,
      duplicateVideos,
      unexpectedFailures,
      kills,
      restarts,
      maxRestartToHealthyMs: stacks.maxHealthyMs,
      recoverMs,
      injected,
      providerCalls,
      durationMs: Date.now() - started,
      workDir,
    };
  } catch (err) {
    // The run itself broke: keep the data and the stack's logs for a look.
    options.keep = true;
    throw err;
  } finally {
    await stacks.stop();
    await sim.close();
    if (!options.keep) await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The run as a table, for the terminal and the README. */
export function formatTable(r: ChaosResult): string {
  const failed = Object.entries(r.failedByCode)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  const rows: [string, string][] = [
    ['seed', String(r.seed)],
    ['burst (one user)', `${r.burst.sent} uploads, limit ${r.options.limit}: ${r.burst.created} created, ${r.burst.refused429} × 429, ${r.burst.leftoverUploads} files left behind${r.burst.ok ? '' : '  ✗'}`],
    ['jobs accepted (202)', String(r.accepted)],
    ['uploads cut by a kill', String(r.uploadsCut)],
    ['jobs in the store', String(r.jobsInStore)],
    ['completed', String(r.completed)],
    ['failed, by code', failed === '' ? '0' : failed],
    ['stuck (must be 0)', String(r.stuck.length)],
    ['duplicate avatars (must be 0)', String(r.duplicateAvatars.length)],
    ['avatars made again after a lost answer', `${r.avatarsAfterLostAnswer} (kill -9 or timeout during the call; VisionStory takes no idempotency key for avatars)`],
    ['duplicate videos (must be 0)', String(r.duplicateVideos.length)],
    ['kill -9', `${r.kills} (restarts: ${r.restarts.samePort} same port, ${r.restarts.otherPort} other port)`],
    ['deliveries per task', '2 or 3 (drawn at each start)'],
    ['provider faults', Object.entries(r.injected).map(([k, n]) => `${k} ${n}`).join(', ')],
    ['restart → healthy (max)', `${(r.maxRestartToHealthyMs / 1000).toFixed(1)} s`],
    ['last fault → all jobs ended', r.recoverMs === null ? 'never (bound reached)' : `${(r.recoverMs / 1000).toFixed(1)} s`],
    ['run time', `${(r.durationMs / 1000).toFixed(0)} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v} |`);
  return [`| ${'what'.padEnd(w)} | figure |`, `|${'-'.repeat(w + 2)}|--------|`, ...lines].join('\n');
}

/** True when the run found nothing wrong. */
export function passed(r: ChaosResult): boolean {
  return r.stuck.length === 0 && r.duplicateAvatars.length === 0 && r.duplicateVideos.length === 0 && r.unexpectedFailures.length === 0 && r.burst.ok;
}
