import { accessSync, constants as fsConstants } from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * The local stand-in for a talking avatar, as one ffmpeg filter graph: the photo breathes (a
 * slow zoom), sways, and leans in and nods with the loudness of the voice; a lower third shows
 * the speaker's name and bio above a live waveform of the voice; the picture fades in and out.
 * Everything here is pure (arguments in, ffmpeg arguments out) except the font search.
 *
 * The loudness is measured beforehand (per segment of about 0.1 s) and written into the zoompan
 * expressions as a sum of `value*between(frame, first, last)` terms: zoompan cannot read audio
 * and sendcmd support differs between ffmpeg versions, while these expressions work the same in
 * the bundled 2018 build and in Debian's.
 */

/** Frames per second of the local avatar: smooth enough for a gentle motion, cheap to encode. */
export const SCENE_FPS = 15;
/** At most this many loudness segments go into the expressions (a long clip gets longer ones). */
const MAX_SEGMENTS = 400;
const FADE_SEC = 0.4;

/** Output size: the photo's shape fitted into 1280×720 (or 720×1280 upright), even sides. */
export function sceneSize(photoWidth: number, photoHeight: number): { width: number; height: number } {
  const landscape = photoWidth >= photoHeight;
  const boxW = landscape ? 1280 : 720;
  const boxH = landscape ? 720 : 1280;
  const scale = Math.min(boxW / photoWidth, boxH / photoHeight, 1);
  const even = (n: number) => Math.max(2, Math.floor(n / 2) * 2);
  return { width: even(photoWidth * scale), height: even(photoHeight * scale) };
}

/**
 * Loudness per segment in 0..1 from mono 16-bit PCM: RMS per segment, scaled so the loud parts of
 * this recording reach about 1, with a fast attack and slower release like a mouth.
 */
export function loudness(pcm: Buffer, sampleRate: number, segmentSec: number): number[] {
  const perSegment = Math.max(1, Math.round(sampleRate * segmentSec));
  const samples = Math.floor(pcm.length / 2);
  const rms: number[] = [];
  for (let start = 0; start < samples; start += perSegment) {
    const end = Math.min(samples, start + perSegment);
    let sum = 0;
    for (let i = start; i < end; i++) {
      const v = pcm.readInt16LE(i * 2) / 32768;
      sum += v * v;
    }
    rms.push(Math.sqrt(sum / Math.max(1, end - start)));
  }
  const sorted = [...rms].sort((a, b) => a - b);
  const loud = sorted[Math.floor(sorted.length * 0.95)] ?? 0;
  if (loud < 1e-4) return rms.map(() => 0);
  const out: number[] = [];
  let level = 0;
  for (const r of rms) {
    const target = Math.min(1, r / loud);
    level = target > level ? target : level * 0.6 + target * 0.4;
    out.push(Math.round(level * 100) / 100);
  }
  return out;
}

/** Segment length for a clip: about 0.1 s, longer for long clips so the expression stays small. */
export function segmentSeconds(durationSec: number): number {
  return Math.max(0.1, durationSec / MAX_SEGMENTS);
}

/** An ffmpeg expression of the output frame number `on` giving the loudness at that frame. */
export function levelExpression(levels: number[], segmentSec: number, fps: number): string {
  const terms: string[] = [];
  levels.forEach((level, i) => {
    if (level <= 0) return;
    const first = Math.round(i * segmentSec * fps);
    const last = Math.round((i + 1) * segmentSec * fps) - 1;
    if (last < first) return;
    terms.push(`${level}*between(on,${first},${last})`);
  });
  return terms.length > 0 ? balancedSum(terms) : '0';
}

/**
 * `(a+b)+(c+d)…` nested as a balanced tree: ffmpeg 5 and later refuse a flat sum of hundreds of
 * terms (the expression tree is too deep), while a balanced one stays about ten levels deep.
 */
function balancedSum(terms: string[]): string {
  if (terms.length === 1) return `(${terms[0]})`;
  const half = Math.ceil(terms.length / 2);
  return `(${balancedSum(terms.slice(0, half))}+${balancedSum(terms.slice(half))})`;
}

/** Rough advance width in ems: wide for CJK and Hangul, narrow for Latin. */
function charWidth(ch: string): number {
  const code = ch.codePointAt(0) ?? 0;
  if (code >= 0x1100 && (code <= 0x115f || (code >= 0x2e80 && code <= 0xa4cf) || (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xff00 && code <= 0xff60))) {
    return 1;
  }
  return ch === ' ' ? 0.3 : 0.56;
}

/**
 * Wraps `text` into at most `maxLines` lines of at most `maxEms` ems, breaking at spaces where it
 * can (and anywhere in CJK text); a cut-off last line ends with an ellipsis.
 */
export function wrapText(text: string, maxEms: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = '';
  let width = 0;
  const words = text.replace(/\s+/g, ' ').trim().split(/(?<= )/);
  const push = () => {
    lines.push(line.trimEnd());
    line = '';
    width = 0;
  };
  for (const word of words) {
    const w = [...word].reduce((sum, ch) => sum + charWidth(ch), 0);
    if (width + w > maxEms && line !== '') push();
    if (w > maxEms) {
      for (const ch of word) {
        if (width + charWidth(ch) > maxEms) push();
        line += ch;
        width += charWidth(ch);
      }
    } else {
      line += word;
      width += w;
    }
  }
  if (line.trim()) push();
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    const last = [...(kept[maxLines - 1] as string)];
    while (last.length > 0 && last.reduce((s, ch) => s + charWidth(ch), 0) + 1 > maxEms) last.pop();
    kept[maxLines - 1] = `${last.join('').trimEnd()}…`;
    return kept;
  }
  return lines;
}

const FONT_CANDIDATES = [
  // Debian's fonts-noto-cjk: Latin, Hangul, kana and Han in one font.
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc',
  '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc',
  '/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc',
  '/System/Library/Fonts/AppleSDGothicNeo.ttc',
];
const LATIN_FALLBACKS = ['/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'];

let fontCache: { file: string; cjk: boolean } | null | undefined;

function readable(file: string): boolean {
  try {
    accessSync(file, fsConstants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * A font for the lower third, found at run time: a CJK font (so Korean names show) from the
 * usual places or fontconfig, else a Latin one, else null (the video is made without text).
 */
export function findCaptionFont(): { file: string; cjk: boolean } | null {
  if (fontCache !== undefined) return fontCache;
  let found: { file: string; cjk: boolean } | null = null;
  const known = FONT_CANDIDATES.find(readable);
  if (known) found = { file: known, cjk: true };
  if (!found) {
    try {
      const listed = execFileSync('fc-list', [':lang=ko', 'file'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .map((l) => l.replace(/:\s*$/, '').trim())
        .filter((f) => /\.(ttf|otf|ttc)$/i.test(f) && readable(f));
      if (listed[0]) found = { file: listed[0], cjk: true };
    } catch {
      // No fontconfig on this machine.
    }
  }
  if (!found) {
    const latin = LATIN_FALLBACKS.find(readable);
    if (latin) found = { file: latin, cjk: false };
  }
  fontCache = found;
  return found;
}

/**
 * Quotes a file path for a filter graph option. The paths are ours (the work directory, a font
 * directory): a quote in one would need two levels of escaping, so it is refused instead.
 */
function quote(value: string): string {
  if (/['\\]/.test(value)) throw new Error(`a path with a quote or backslash cannot go into a filter graph: ${value}`);
  return `'${value}'`;
}

export interface SceneInput {
  photo: string;
  photoWidth: number;
  photoHeight: number;
  audio: string;
  durationSec: number;
  levels: number[];
  segmentSec: number;
  /** Caption text files (UTF-8) and the font, or null for a video without a lower third. */
  caption: { nameFile: string; bioFile: string | null; bioLines: number; font: string } | null;
  output: string;
}

/** The whole ffmpeg command line (arguments after `ffmpeg`) for one local avatar video. */
export function sceneArgs(input: SceneInput): string[] {
  const { width: W, height: H } = sceneSize(input.photoWidth, input.photoHeight);
  const fps = SCENE_FPS;
  const L = levelExpression(input.levels, input.segmentSec, fps);
  const frames = Math.max(1, Math.round(input.durationSec * fps));
  // Breathing zoom (7 s period) plus a lean-in with the voice; sway on two slow, unrelated
  // periods so the motion never repeats exactly; a small nod up with the voice.
  const zoom = `1.045+0.015*sin(2*PI*on/${fps * 7})+0.05*${L}`;
  const x = `iw/2-(iw/zoom/2)+iw*0.008*sin(2*PI*on/${(fps * 5.3).toFixed(1)})`;
  const y = `ih/2-(ih/zoom/2)+ih*0.006*sin(2*PI*on/${(fps * 4.1).toFixed(1)})-ih*0.012*${L}`;
  const fadeOutStart = Math.max(0, input.durationSec - FADE_SEC).toFixed(3);

  const chains: string[] = [];
  // The photo is decoded once and repeated by the loop filter (an image input with -loop 1 is
  // decoded again for every frame); it is scaled only when the avatar is not already W×H.
  const fit = input.photoWidth === W && input.photoHeight === H ? '' : `scale=${W}:${H},`;
  chains.push(
    `[0:v]${fit}setsar=1,loop=loop=${frames}:size=1:start=0,setpts=N/(${fps}*TB),` +
      `zoompan=z='${zoom}':x='${x}':y='${y}':d=1:s=${W}x${H}:fps=${fps},` +
      `trim=end_frame=${frames},setpts=N/(${fps}*TB)[photo]`,
  );
  let last = 'photo';
  if (input.caption) {
    const barH = Math.round(H * (input.caption.bioFile ? 0.1 + 0.04 * input.caption.bioLines : 0.12));
    const barY = H - barH;
    const nameSize = Math.round(Math.min(W, H) * 0.05);
    const bioSize = Math.round(Math.min(W, H) * 0.032);
    const margin = Math.round(Math.min(W, H) * 0.04);
    const waveW = Math.round(W * 0.22);
    const waveH = Math.round(barH * 0.45);
    const font = quote(input.caption.font);
    let bar =
      `[${last}]drawbox=x=0:y=${barY}:w=iw:h=${barH}:color=black@0.55:t=fill,` +
      `drawtext=fontfile=${font}:textfile=${quote(input.caption.nameFile)}:expansion=none:fontcolor=white:fontsize=${nameSize}:x=${margin}:y=${barY + Math.round(barH * 0.12)}`;
    if (input.caption.bioFile) {
      bar +=
        `,drawtext=fontfile=${font}:textfile=${quote(input.caption.bioFile)}:expansion=none:fontcolor=white@0.85:fontsize=${bioSize}` +
        `:line_spacing=${Math.round(bioSize * 0.3)}:x=${margin}:y=${barY + Math.round(barH * 0.12) + Math.round(nameSize * 1.35)}`;
    }
    chains.push(`${bar}[titled]`);
    // The voice as a live waveform at the right of the lower third.
    chains.push(`[1:a]aformat=channel_layouts=mono,showwaves=s=${waveW}x${waveH}:mode=cline:rate=${fps}:colors=white,format=yuva420p,colorchannelmixer=aa=0.8[wave]`);
    chains.push(`[titled][wave]overlay=x=${W - waveW - margin}:y=${barY + Math.round((barH - waveH) / 2)}:shortest=1[scene]`);
    last = 'scene';
  }
  chains.push(`[${last}]fade=t=in:st=0:d=${FADE_SEC},fade=t=out:st=${fadeOutStart}:d=${FADE_SEC},format=yuv420p[v]`);
  chains.push(`[1:a]afade=t=in:st=0:d=${FADE_SEC},afade=t=out:st=${fadeOutStart}:d=${FADE_SEC}[a]`);

  return [
    '-y',
    '-i', input.photo,
    '-i', input.audio,
    '-filter_complex_threads', '1',
    '-filter_complex', chains.join(';'),
    '-map', '[v]', '-map', '[a]',
    '-t', input.durationSec.toFixed(3),
    '-c:v', 'libx264', '-preset', 'superfast', '-crf', '23', '-pix_fmt', 'yuv420p',
    '-g', String(fps * 4),
    '-threads', '1',
    '-c:a', 'aac', '-b:a', '128k',
    '-movflags', '+faststart',
    '-f', 'mp4',
    input.output,
  ];
}
