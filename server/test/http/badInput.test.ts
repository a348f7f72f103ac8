import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeBigFile, makeCorruptFile, makeTestAudio, makeTestImage } from '../support/media';
import { listFiles, startTestStack, upload, type TestStack } from '../support/stack';

// Bad input always gets a clear JSON error with a fitting status, and leaves nothing behind:
// no job, no blob. The worker is kept out of the way (its tasks would start rendering) by
// checking only the requests that are refused.

let stack: TestStack;
let media: string;
let image: string;
let png: string;
let audio: string;
let mp3: string;
let m4a: string;

beforeAll(async () => {
  media = await mkdtemp(path.join(os.tmpdir(), 'bad-input-'));
  [image, png, audio, mp3, m4a] = await Promise.all([
    makeTestImage(media, { format: 'jpeg', name: 'face' }),
    makeTestImage(media, { format: 'png', name: 'face' }),
    makeTestAudio(media, { format: 'wav', seconds: 1, name: 'voice' }),
    makeTestAudio(media, { format: 'mp3', seconds: 1, name: 'voice' }),
    makeTestAudio(media, { format: 'm4a', seconds: 1, name: 'voice' }),
  ]);
  stack = await startTestStack({ env: { MAX_ACTIVE_JOBS_PER_USER: '100' } });
});

afterAll(async () => {
  await stack.close();
  await rm(media, { recursive: true, force: true });
});

let user = 0;
/** Each case runs as its own user, so "no job was made" is a clean check. */
function freshUser(): Record<string, string> {
  user += 1;
  return { 'X-User-Id': `bad-input-${user}` };
}

async function expectNothingLeft(headers: Record<string, string>): Promise<void> {
  const res = await fetch(`${stack.baseUrl}/jobs`, { headers });
  const body = (await res.json()) as { jobs: unknown[] };
  expect(body.jobs).toEqual([]);
  const blobs = await listFiles(path.join(stack.dataDir, 'blobs'));
  // (An accepted job's folder also gets the photo prepared from its upload once its first step runs.)
  expect(blobs.filter((f) => f.startsWith('uploads/') && !/\/prepared\.jpg(\.meta\.json)?$/.test(f))).toEqual(uploadsOfAcceptedJobs);
  // No empty folder of a refused upload either: only the accepted jobs' folders remain.
  const { readdir } = await import('node:fs/promises');
  const folders = await readdir(path.join(stack.dataDir, 'blobs', 'uploads')).catch(() => [] as string[]);
  expect(folders.sort()).toEqual([...new Set(uploadsOfAcceptedJobs.map((f) => f.split('/')[1]!))].sort());
}

/** Uploads accepted by the few successful cases below; everything else must leave none. */
const uploadsOfAcceptedJobs: string[] = [];

async function expectRefused(
  fields: Parameters<typeof upload>[1],
  status: number,
  code: string,
  messagePart?: RegExp,
): Promise<void> {
  const headers = freshUser();
  const res = await upload(stack.baseUrl, fields, headers);
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ success: false, error: { code, message: expect.any(String) } });
  if (messagePart) expect(res.body.error.message).toMatch(messagePart);
  await expectNothingLeft(headers);
}

describe('POST /generate-with-tasks refuses bad input and leaves nothing behind', () => {
  test('a missing image is a 400 naming the field', async () => {
    await expectRefused({ audio, instructorName: 'Kim' }, 400, 'missing_file', /image/);
  });

  test('a missing audio file is a 400 naming the field', async () => {
    await expectRefused({ image, instructorName: 'Kim' }, 400, 'missing_file', /audio/);
  });

  test('a missing instructorName is a 400', async () => {
    await expectRefused({ image, audio }, 400, 'missing_field', /instructorName/);
  });

  test('an empty image file is a 400', async () => {
    const empty = path.join(media, 'empty.jpg');
    await writeFile(empty, '');
    await expectRefused({ image: empty, audio, instructorName: 'Kim' }, 400, 'empty_file');
  });

  test('a text file named .jpg is refused by its contents with 415', async () => {
    const fake = await makeCorruptFile(media, { name: 'notes.jpg' } as never);
    await expectRefused({ image: fake, audio, instructorName: 'Kim' }, 415, 'unsupported_media_type', /image/);
  });

  test('audio sent in the image field is a 415, whatever its name says', async () => {
    const renamed = path.join(media, 'voice-as.jpg');
    await writeFile(renamed, await (await import('node:fs/promises')).readFile(audio));
    await expectRefused({ image: renamed, audio, instructorName: 'Kim' }, 415, 'unsupported_media_type');
  });

  test('an image in the audio field is a 415', async () => {
    await expectRefused({ image, audio: png, instructorName: 'Kim' }, 415, 'unsupported_media_type', /audio/);
  });

  test('an image over 10 MB is a 413 and its partial upload is removed', async () => {
    const big = await makeBigFile(media, 10 * 1024 * 1024 + 1, 'jpeg', 'big-image');
    await expectRefused({ image: big, audio, instructorName: 'Kim' }, 413, 'file_too_large', /10 MB/);
  });

  test('audio over 30 MB is a 413, also after a good image was stored', async () => {
    const big = await makeBigFile(media, 30 * 1024 * 1024 + 1, 'wav', 'big-audio');
    await expectRefused({ image, audio: big, instructorName: 'Kim' }, 413, 'file_too_large', /30 MB/);
  });

  test('an unknown file field is a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'Kim', extraFiles: { video: image } }, 400, 'unexpected_file');
  });

  test('a second image is a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'Kim', extraFiles: { image: png } }, 400, 'unexpected_file');
  });

  test('an unknown text field is a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'Kim', extra: { color: 'blue' } }, 400, 'unexpected_field');
  });

  test('a name over 100 characters is a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'K'.repeat(101) }, 400, 'field_too_long', /100/);
  });

  test('a bio over 1000 characters is a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'Kim', instructorBio: 'b'.repeat(1001) }, 400, 'field_too_long', /1000/);
  });

  test('a huge text field is cut off by the parser with a 400', async () => {
    await expectRefused({ image, audio, instructorName: 'Kim', instructorBio: 'b'.repeat(100_000) }, 400, 'field_too_long');
  });

  test('a JSON body instead of a form is a 400', async () => {
    const headers = freshUser();
    const res = await fetch(`${stack.baseUrl}/generate-with-tasks`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ image: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('expected_multipart');
    await expectNothingLeft(headers);
  });

  test('a client that disconnects mid-upload leaves no blob and no job', async () => {
    const headers = freshUser();
    const boundary = '----abort-test';
    const url = new URL(`${stack.baseUrl}/generate-with-tasks`);
    await new Promise<void>((resolve) => {
      const req = http.request({
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(20 * 1024 * 1024) },
      });
      req.on('error', () => resolve());
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
      req.write(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2 * 1024 * 1024)]));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    // Give the server a moment to notice the reset and clean up.
    const deadline = Date.now() + 5000;
    let left = await listFiles(path.join(stack.dataDir, 'blobs', 'uploads'));
    while (left.length > uploadsOfAcceptedJobs.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await listFiles(path.join(stack.dataDir, 'blobs', 'uploads'));
    }
    await expectNothingLeft(headers);
  });
});

describe('POST /generate-with-tasks accepts every supported format, decided by bytes', () => {
  test.each([
    ['png + mp3', () => png, () => mp3, 'image/png', 'audio/mpeg'],
    ['jpeg + m4a', () => image, () => m4a, 'image/jpeg', 'audio/mp4'],
  ])('%s is accepted with the sniffed types', async (_name, img, aud, imageType, audioType) => {
    // Misleading names: the server must not care.
    const res = await upload(stack.baseUrl, { image: img(), audio: aud(), instructorName: 'Kim' }, freshUser());
    expect(res.status).toBe(202);
    const job = (await (await fetch(`${stack.baseUrl}/jobs/${res.body.jobId}`, { headers: { 'X-User-Id': `bad-input-${user}` } })).json()) as any;
    expect(job.input.imageType).toBe(imageType);
    expect(job.input.audioType).toBe(audioType);
    uploadsOfAcceptedJobs.push(job.input.imagePath, job.input.audioPath);
    uploadsOfAcceptedJobs.sort();
  });
});
