import { readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalBlobStore } from '../server/src/adapters/localBlobStore';
import { ffmpegPath, runFfmpeg } from '../server/src/adapters/localRender/ffmpeg';
import { LocalRenderProvider } from '../server/src/adapters/localRender/localRenderProvider';
import type { BenchRow } from './support';

/**
 * The local avatar's render speed: a 60 s voice and a 1280×720 photo through the local render
 * provider (loudness pass, zoompan scene, lower third, H.264 + AAC), the way the pipeline calls
 * it. The render runs ffmpeg with one thread; its CPU time (children's user + system time from
 * /proc/self/stat) is the time it takes on one free core, whatever else the machine is doing.
 */

const CLIP_SEC = 60;

function childCpuSec(): number {
  // Fields 16 and 17 of /proc/self/stat: cutime and cstime of waited-for children, in ticks.
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

export async function runLocalRenderBench(options: { log: (line: string) => void }): Promise<BenchRow[]> {
  const { log } = options;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-render-'));
  try {
    const blobs = new LocalBlobStore({ rootDir: path.join(dir, 'blobs') });
    const photo = path.join(dir, 'photo.jpg');
    const voice = path.join(dir, 'voice.m4a');
    await runFfmpeg(['-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720', '-frames:v', '1', '-q:v', '3', photo]);
    // A tone whose loudness comes and goes three times a second, like syllables.
    await runFfmpeg(['-y', '-f', 'lavfi', '-i', `sine=frequency=220:duration=${CLIP_SEC}`, '-af', "volume='0.2+0.8*gt(sin(2*PI*t*3),0)':eval=frame", '-c:a', 'aac', voice]);
    await blobs.putStream('bench/photo.jpg', Readable.from([await fs.readFile(photo)]), { contentType: 'image/jpeg' });
    await blobs.putStream('bench/voice.m4a', Readable.from([await fs.readFile(voice)]), { contentType: 'audio/mp4' });
    const provider = new LocalRenderProvider({ blobs, workDir: path.join(dir, 'render') });
    log(`local render: ${CLIP_SEC} s clip at 1280x720 with ${ffmpegPath()}`);
    const { avatarId } = await provider.createAvatar({ key: 'bench/photo.jpg', contentType: 'image/jpeg' }, 'bench:avatar');
    const cpu0 = childCpuSec();
    const t0 = performance.now();
    const { videoId } = await provider.createVideo(avatarId, { key: 'bench/voice.m4a', contentType: 'audio/mp4' }, 'bench:video', {
      instructorName: '김민지 Kim Minji',
      instructorBio: '서울대학교 물리학과 교수. Teaches physics to first-year students.',
    });
    let state = await provider.getVideo(videoId);
    while (state.state === 'queued' || state.state === 'running') {
      await new Promise((r) => setTimeout(r, 100));
      state = await provider.getVideo(videoId);
    }
    const wallSec = (performance.now() - t0) / 1000;
    const cpuSec = childCpuSec() - cpu0;
    await provider.close();
    if (state.state !== 'done') throw new Error(`the render failed: ${state.reason}`);
    const load = os.loadavg()[0]!.toFixed(1);
    log(`rendered in ${wallSec.toFixed(1)} s wall, ${cpuSec.toFixed(1)} s CPU (load ${load})`);
    return [
      {
        target: `local avatar render, ${CLIP_SEC} s clip at 720p, one core (ffmpeg CPU time)`,
        measured: `${cpuSec.toFixed(1)} s = ${(cpuSec / CLIP_SEC).toFixed(2)}× (wall ${wallSec.toFixed(1)} s at load ${load})`,
        goal: '≤ 0.5×',
        pass: cpuSec / CLIP_SEC <= 0.5,
      },
    ];
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
