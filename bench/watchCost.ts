import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../server/src/config';
import { silentLogger } from '../server/src/logger';
import { startService } from '../server/src/service';
import { makeTestAudio, makeTestImage } from '../server/test/support/media';
import { cloudRunBilling } from './providerHour';
import { AvatarClient } from '../clients/avatarClient';
import { fmt, postMultipart, removeDir, type BenchRow } from './support';

/** Options of {@link runWatchCostBench}. */
export interface WatchCostBenchOptions {
  /** Conditional GETs timed to learn what one poll costs. */
  samples?: number;
  log?: (line: string) => void;
}

const HOUR_SEC = 3600;

/**
 * Billed api seconds for one hour of someone watching a job, per kind of client, with the
 * billing model of providerHour.ts (each request rounded up to 100 ms, plus cold starts):
 *
 * - the web page on Server-Sent Events: one request open for the whole hour;
 * - the web page and the Flutter app on a Firestore listener: no api request while watching
 *   (Firestore bills document reads, not Cloud Run seconds); the page's opening GET /config and
 *   GET /jobs/:id are made by every client and are timed for the log only;
 * - the CLI polling GET /jobs/:id with If-None-Match every WATCH_POLL_INTERVAL seconds: the real
 *   conditional GETs are timed on the local stack (WATCH=cloud) and one hour of them is billed.
 */
export async function runWatchCostBench(options: WatchCostBenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? (() => undefined);
  const samples = options.samples ?? 200;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-watch-'));
  const config = loadConfig({ DATA_DIR: path.join(dir, 'data'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', WATCH: 'cloud' });
  const service = await startService(config, silentLogger);
  try {
    const image = await makeTestImage(dir, { format: 'jpeg', name: 'face' });
    const audio = await makeTestAudio(dir, { format: 'wav', seconds: 1, name: 'voice' });
    const size = async (p: string): Promise<number> => (await fs.stat(p)).size;
    const created = await postMultipart(`${service.url}/generate-with-tasks`, { instructorName: 'Bench' }, [
      { field: 'image', filename: 'face.jpg', contentType: 'image/jpeg', path: image, size: await size(image) },
      { field: 'audio', filename: 'voice.wav', contentType: 'audio/wav', path: audio, size: await size(audio) },
    ]);
    if (created.status !== 202) throw new Error(`upload answered ${created.status}: ${created.body}`);
    const client = new AvatarClient(service.url);
    const jobId = (JSON.parse(created.body) as { jobId: string }).jobId;
    const jobUrl = client.jobUrl(jobId);

    // Wait for the job to end, so every timed poll is the unchanged case (304).
    let etag = '';
    for (let i = 0; i < 600; i++) {
      const answer = await client.getJobIfChanged(jobId, null);
      etag = answer.etag ?? '';
      if (['completed', 'failed'].includes(answer.job!.status)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    const timed = async (url: string, headers: Record<string, string> = {}): Promise<{ ms: number; status: number }> => {
      const t0 = performance.now();
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      return { ms: performance.now() - t0, status: res.status };
    };
    const pollMs: number[] = [];
    let notModified = 0;
    for (let i = 0; i < samples; i++) {
      const r = await timed(jobUrl, { 'If-None-Match': etag });
      pollMs.push(r.ms);
      if (r.status === 304) notModified++;
    }
    const sorted = [...pollMs].sort((a, b) => a - b);
    log(`conditional GET /jobs/:id: ${notModified}/${samples} answered 304; median ${fmt(sorted[Math.floor(samples / 2)]!, 2)} ms, max ${fmt(sorted.at(-1)!, 2)} ms`);

    // CLI: one poll every pollIntervalSec for an hour; the measured durations, cycled.
    const interval = config.watch.pollIntervalSec;
    const polls = Math.ceil(HOUR_SEC / interval);
    const cliDurations = Array.from({ length: polls }, (_, i) => pollMs[i % pollMs.length]!);
    const cli = cloudRunBilling(cliDurations, cliDurations.map((_, i) => i * interval * 1000));

    // Firestore listener: no api request while watching. The page's opening requests (also made
    // by the other clients, so not counted for any of them) are timed for the log.
    const opening = [await timed(`${service.url}/config`), await timed(jobUrl)];
    const openingBilled = cloudRunBilling(
      opening.map((r) => r.ms),
      opening.map(() => 0),
    );
    const listener = cloudRunBilling([], []);
    // Server-Sent Events: one request open for the hour.
    const sse = cloudRunBilling([HOUR_SEC * 1000], [0]);

    log(`SSE page: 1 request open ${HOUR_SEC} s → ${fmt(sse.billedSec, 0)} billed s`);
    log(`Firestore listener: no api request while watching (${fmt(listener.billedSec, 1)} billed s); the page's ${opening.length} opening requests bill ${fmt(openingBilled.billedSec - openingBilled.coldStarts, 1)} s like any client's`);
    log(`CLI polling every ${interval} s: ${polls} requests → ${fmt(cli.billedSec, 1)} billed s (${cli.coldStarts} cold start)`);
    return [
      {
        target: 'watch: billed api s per watched job-hour, web page on SSE (local stack, curl)',
        measured: `${fmt(sse.billedSec, 0)} s`,
        goal: 'comparison',
        pass: null,
        detail: { ...sse },
      },
      {
        target: 'watch: billed api s per watched job-hour, web page / Flutter app on a Firestore listener',
        measured: `${fmt(listener.billedSec, 1)} s (no api request while watching)`,
        goal: '≤ 1 s',
        pass: listener.billedSec <= 1,
        detail: { ...listener, openingMs: opening.map((r) => r.ms) },
      },
      {
        target: `watch: billed api s per watched job-hour, CLI polling with If-None-Match every ${interval} s`,
        measured: `${fmt(cli.billedSec, 1)} s (${polls} polls, ${notModified}/${samples} timed were 304, median ${fmt(sorted[Math.floor(samples / 2)]!, 2)} ms)`,
        goal: '≤ 40 s',
        pass: cli.billedSec <= 40,
        detail: { ...cli, polls, pollIntervalSec: interval, pollMsMedian: sorted[Math.floor(samples / 2)], pollMsMax: sorted.at(-1) },
      },
    ];
  } finally {
    await service.close();
    await removeDir(dir);
  }
}
