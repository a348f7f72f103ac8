import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../server/src/config';
import { silentLogger } from '../server/src/logger';
import { startService, type RunningService } from '../server/src/service';
import { makeTestAudio, makeTestImage } from '../server/test/support/media';
import {
  InstantProvider,
  machineLoad,
  readCpuMs,
  startProfile,
  fmt,
  percentile,
  postMultipart,
  removeDir,
  sleep,
  startChild,
  stopChild,
  timeRequests,
  type BenchRow,
  type Child,
  type FilePart,
} from './support';

/**
 * Where the Cloud Tasks emulator runs: `embedded` in the service's process (the local stack as
 * `npm start` runs it), `separate` in a process of its own (like Google's Cloud Tasks, which
 * costs the worker's CPU nothing).
 */
export type EmulatorPlacement = 'embedded' | 'separate';

/**
 * How the jobs move. `steady`: jobs created one after another as users would, each polling
 * every second, so ~100 jobs are in flight and their steps interleave (the target's case).
 * `burst`: all jobs created while the queue is paused, then released at once, so every step
 * of every job arrives together (100 simultaneous requests on one process, a worst case).
 */
export type LoadPattern = 'steady' | 'burst';

export interface WorkerScenario {
  placement: EmulatorPlacement;
  pattern: LoadPattern;
  /** When false, the rows are reported as information, without PASS/MISS. */
  judged: boolean;
}

/** Options of {@link runWorkerStepBench}. */
export interface WorkerStepBenchOptions {
  /** Jobs in flight at once; the issue says 100. */
  jobs?: number;
  scenarios?: WorkerScenario[];
  log?: (line: string) => void;
}

type Phase = 'claim+commit (store.update)' | 'enqueue (Cloud Tasks gRPC)' | 'blob writes (uploads and video.store)';

/** Wraps an object's async method to add its time to `totals[phase]`. */
function timeMethod<T extends object>(obj: T, method: keyof T & string, phase: Phase, totals: Map<Phase, { n: number; ms: number }>): void {
  const original = (obj[method] as (...args: unknown[]) => Promise<unknown>).bind(obj);
  (obj as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await original(...args);
    } finally {
      const t = totals.get(phase) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += performance.now() - start;
      totals.set(phase, t);
    }
  };
}

export const DEFAULT_SCENARIOS: WorkerScenario[] = [
  { placement: 'embedded', pattern: 'steady', judged: true },
  { placement: 'separate', pattern: 'steady', judged: false },
  { placement: 'embedded', pattern: 'burst', judged: false },
];

/**
 * Issue 2, second bullet: the server-side time of one worker request (claim → provider call →
 * commit → enqueue next) on the local stack, provider time excluded, with 100 jobs in flight.
 *
 * The real composition (startService: SqliteJobStore on a temp file, CloudTasksQueue → the
 * Cloud Tasks emulator, whose dispatches hit POST /worker/process-avatar over HTTP) with one
 * swap: a provider that answers at once, standing in for the paid API. Each worker request is
 * timed inside the service's http server, from the request event to the response's finish.
 */
export async function runWorkerStepBench(options: WorkerStepBenchOptions = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // BENCH_SCENARIOS=steady-separate,burst-embedded picks some of the defaults (for profiling).
  const picked = process.env.BENCH_SCENARIOS?.split(',');
  const defaults = picked ? DEFAULT_SCENARIOS.filter((s) => picked.includes(`${s.pattern}-${s.placement}`)) : DEFAULT_SCENARIOS;
  for (const scenario of options.scenarios ?? defaults) rows.push(...(await runScenario(options, scenario)));
  return rows;
}

interface Sample {
  startMs: number;
  ms: number;
}

async function runScenario(options: WorkerStepBenchOptions, scenario: WorkerScenario): Promise<BenchRow[]> {
  const { placement, pattern } = scenario;
  const log = (line: string): void => options.log?.(`[${pattern}, ${placement} emulator] ${line}`);
  const jobCount = options.jobs ?? 100;
  // steady: a poll a second for 10 s; burst: as fast as the queue goes, a few polls.
  const pollSec = pattern === 'steady' ? '1' : '0.05';
  const pollsBeforeDone = pattern === 'steady' ? 10 : 2;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-worker-'));
  let emulatorChild: Child | undefined;
  let service: RunningService | undefined;
  try {
    if (placement === 'separate') {
      emulatorChild = await startChild('emulatorChild.ts', { ...process.env, TASKS_EMULATOR_DB: path.join(dir, 'tasks.sqlite') });
    }
    const config = loadConfig({
      ...(emulatorChild ? { CLOUD_TASKS_EMULATOR_HOST: `127.0.0.1:${emulatorChild.info.port}` } : {}),
      DATA_DIR: path.join(dir, 'data'),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      POLL_SCHEDULE: pollSec,
      POLL_MAX_INTERVAL: pollSec,
      MAX_ACTIVE_JOBS_PER_USER: String(jobCount * 2),
      TASK_MIN_BACKOFF: '0.2',
      TASK_MAX_BACKOFF: '1',
      SHUTDOWN_GRACE_MS: '2000',
    });
    const provider = new InstantProvider((_id, calls) => calls > pollsBeforeDone);
    service = await startService(config, silentLogger, { provider });
    const image = await makeTestImage(path.join(dir, 'media'), { format: 'jpeg', width: 320, height: 256, name: 'photo' });
    const audio = await makeTestAudio(path.join(dir, 'media'), { format: 'wav', seconds: 1, name: 'voice' });
    const files: FilePart[] = [
      { field: 'image', filename: 'photo.jpg', contentType: 'image/jpeg', path: image, size: (await fs.stat(image)).size },
      { field: 'audio', filename: 'voice.wav', contentType: 'audio/wav', path: audio, size: (await fs.stat(audio)).size },
    ];

    const samples: Sample[] = [];
    const statuses: Record<string, number> = {};
    const phases = new Map<Phase, { n: number; ms: number }>();
    timeMethod(service.store, 'update', 'claim+commit (store.update)', phases);
    timeMethod(service.queue, 'enqueue', 'enqueue (Cloud Tasks gRPC)', phases);
    timeMethod(service.blobs, 'putStream', 'blob writes (uploads and video.store)', phases);
    const timer = timeRequests(service.server, '/worker/', (ms, _req, res) => {
      samples.push({ startMs: Date.now() - ms, ms });
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    });

    if (pattern === 'burst') await service.queue.client.pauseQueue({ name: service.queue.queuePath });
    const loadBefore = machineLoad();
    // CPU per worker request: this process's (and the separate emulator's) CPU time over the run.
    // Unlike latency it hardly depends on what else the shared machine is doing.
    let cpu0 = process.cpuUsage();
    let emulatorCpu0 = emulatorChild ? readCpuMs(emulatorChild.pid) ?? 0 : 0;
    const profile = await startProfile(`worker-${pattern}-${placement}`);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const started = performance.now();
    const jobIds: string[] = [];
    // Four uploads at a time: in `steady`, the jobs' polls end up spread over the second.
    for (let i = 0; i < jobCount; i += 4) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(4, jobCount - i) }, (_, k) =>
          postMultipart(`${service!.url}/generate-with-tasks`, { instructorName: `Job ${i + k}` }, files, { 'X-User-Id': 'bench-worker' }),
        ),
      );
      for (const r of batch) {
        if (r.status !== 202) throw new Error(`creating a job answered ${r.status}: ${r.body}`);
        jobIds.push(JSON.parse(r.body).jobId);
      }
    }
    if (pattern === 'burst') {
      // Uploads are not part of what is measured here: restart the CPU count at the release.
      cpu0 = process.cpuUsage();
      emulatorCpu0 = emulatorChild ? readCpuMs(emulatorChild.pid) ?? 0 : 0;
      loopDelay.reset();
      await service.queue.client.resumeQueue({ name: service.queue.queuePath });
    }

    // One COUNT query every 250 ms: the benchmark's own reads stay off the measured event loop.
    const deadline = Date.now() + 120_000;
    while ((await service.store.countActiveByOwner('bench-worker')) > 0) {
      if (Date.now() > deadline) throw new Error('jobs did not finish within 120 s');
      await sleep(250);
    }
    const wallSec = (performance.now() - started) / 1000;
    timer.stop();
    loopDelay.disable();
    const profileFile = await profile.stop();
    if (profileFile) log(`CPU profile: ${path.relative(process.cwd(), profileFile)}`);
    const cpu = process.cpuUsage(cpu0);
    const serviceCpuMs = (cpu.user + cpu.system) / 1000;
    const emulatorCpuMs = emulatorChild ? (readCpuMs(emulatorChild.pid) ?? 0) - emulatorCpu0 : 0;
    const jobs = (await Promise.all(jobIds.map((id) => service!.store.get(id)))).filter((j) => j !== null);
    const completed = jobs.filter((j) => j.status === 'completed').length;

    // The window in which every job was in flight: from the last creation to the first finish.
    const windowStart = Math.max(...jobs.map((j) => Date.parse(j.createdAt)));
    const windowEnd = Math.min(...jobs.map((j) => Date.parse(j.completedAt ?? j.updatedAt)));
    const all = samples.map((s) => s.ms);
    const inWindow = pattern === 'steady' ? samples.filter((s) => s.startMs >= windowStart && s.startMs <= windowEnd).map((s) => s.ms) : all;
    const p50 = percentile(inWindow, 50);
    const p99 = percentile(inWindow, 99);
    const max = percentile(inWindow, 100);
    const breakdown = Object.fromEntries([...phases].map(([phase, t]) => [phase, { calls: t.n, meanMs: t.ms / t.n }]));
    log(
      `${all.length} worker requests in ${fmt(wallSec)} s, up to ${timer.maxInFlight} at once, statuses ${JSON.stringify(statuses)}, ` +
        `${completed}/${jobCount} jobs completed`,
    );
    if (pattern === 'steady') {
      log(`${inWindow.length} requests while all ${jobCount} jobs were in flight (${fmt((windowEnd - windowStart) / 1000)} s)`);
    }
    log(`p50 ${fmt(p50)} ms, p90 ${fmt(percentile(inWindow, 90))} ms, p99 ${fmt(p99)} ms, max ${fmt(max)} ms`);
    for (const [phase, t] of phases) log(`  ${phase}: ${t.n} calls, mean ${fmt(t.ms / t.n, 2)} ms`);
    const cpuPerRequest = (serviceCpuMs + emulatorCpuMs) / all.length;
    log(
      `CPU ${fmt(cpuPerRequest, 2)} ms per worker request (service process ${fmt(serviceCpuMs / all.length, 2)}` +
        `${emulatorChild ? `, emulator process ${fmt(emulatorCpuMs / all.length, 2)}` : ', emulator included'}); ` +
        `event-loop delay p50 ${fmt(loopDelay.percentile(50) / 1e6)} ms, p99 ${fmt(loopDelay.percentile(99) / 1e6)} ms, max ${fmt(loopDelay.max / 1e6)} ms; ` +
        `machine load ${loadBefore.loadAvg1} → ${machineLoad().loadAvg1} on ${loadBefore.cpus} CPUs`,
    );

    const ok = completed === jobCount && inWindow.length > 0;
    const label = `${pattern === 'steady' ? `${jobCount} jobs in flight, steady` : `${jobCount} jobs released at once`}, ${
      placement === 'embedded' ? 'emulator in the service (npm start)' : 'emulator in its own process'
    }`;
    const detail = {
      emulator: placement,
      pattern,
      pollIntervalSec: Number(pollSec),
      stepsPerJob: 4 + pollsBeforeDone,
      jobs: jobCount,
      completed,
      requests: all.length,
      measuredRequests: inWindow.length,
      wallSec,
      maxConcurrentRequests: timer.maxInFlight,
      statuses,
      p50Ms: p50,
      p90Ms: percentile(inWindow, 90),
      p99Ms: p99,
      maxMs: max,
      allRequests: { p50Ms: percentile(all, 50), p99Ms: percentile(all, 99), maxMs: percentile(all, 100) },
      breakdownMeanMs: breakdown,
      cpuMsPerRequest: cpuPerRequest,
      serviceCpuMsPerRequest: serviceCpuMs / all.length,
      emulatorProcessCpuMsPerRequest: emulatorChild ? emulatorCpuMs / all.length : undefined,
      eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      machineLoad: { before: loadBefore, after: machineLoad() },
    };
    if (!scenario.judged) {
      return [
        {
          target: `worker step p50 / p99 (${label})`,
          measured: `${fmt(p50)} / ${fmt(p99)} ms (max ${fmt(max)})`,
          goal: '(information)',
          pass: null,
          detail,
        },
      ];
    }
    return [
      { target: `worker step p50 (${label})`, measured: `${fmt(p50)} ms`, goal: '≤ 20 ms', pass: ok && p50 <= 20, detail },
      {
        target: `worker step p99 (${label})`,
        measured: `${fmt(p99)} ms (max ${fmt(max)}; ${inWindow.length} requests)`,
        goal: '≤ 100 ms',
        pass: ok && p99 <= 100,
      },
    ];
  } finally {
    await service?.close();
    await stopChild(emulatorChild);
    await removeDir(dir);
  }
}
