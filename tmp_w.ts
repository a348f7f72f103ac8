import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { audioLengthSec, wavLengthSec } from './server/src/http/audioLength';
import { ffmpegPath } from './server/src/adapters/localRender/ffmpeg';
(async () => {
  for (const args of [['-c:a', 'pcm_s16le'], ['-c:a', 'pcm_s24le', '-ac', '2'], ['-c:a', 'pcm_f32le'], ['-c:a', 'pcm_s16le', '-write_bext', '1', '-rf64', 'never'], ['-c:a', 'pcm_u8']]) {
    execFileSync(ffmpegPath(), ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=330:duration=7.3', ...args, '/tmp/w.wav']);
    const buf = readFileSync('/tmp/w.wav');
    const cut = buf.subarray(0, Math.floor(buf.length / 2));
    writeFileSync('/tmp/wcut.wav', cut);
    const probe = (f: string) => { try { return execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f]).toString().trim(); } catch (e) { return 'err'; } };
    console.log(args.join(' '), 'fast', wavLengthSec(buf.subarray(0, 16384), buf.length), 'mm', await audioLengthSec('/tmp/w.wav'), 'ffprobe', probe('/tmp/w.wav'),
      '| cut: fast', wavLengthSec(cut.subarray(0, 16384), cut.length), 'mm', await audioLengthSec('/tmp/wcut.wav'), 'ffprobe', probe('/tmp/wcut.wav'));
  }
})();
