import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AvatarClient } from '../../../clients/avatarClient';
import type { ClientConfig } from '../../../clients/types';
import { messagesFor } from '../../../cli/messages';
import { formatBytes } from '../../src/domain/format';
import { startTestStack, type TestStack } from '../support/stack';

// The clients read the product's facts from GET /config and keep only what must be in the
// reader's language, or must run in the browser: these stories hold those copies to the server.

const WEB = path.resolve(__dirname, '../../src/http/web');

/** Runs `expression` over the page's module `file` in Node itself (the browser's code, not transpiled). */
function inPageModule<T>(file: string, expression: string): T {
  const url = pathToFileURL(path.join(WEB, file)).href;
  const script = `import(${JSON.stringify(url)}).then((m) => process.stdout.write(JSON.stringify(${expression})))`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script]).toString()) as T;
}

let stack: TestStack;
let config: ClientConfig;

beforeAll(async () => {
  stack = await startTestStack();
  config = await new AvatarClient(stack.baseUrl).config<ClientConfig>();
});

afterAll(async () => {
  await stack?.close();
});

describe('the clients have words for every step the server lists', () => {
  test('GET /config lists the four steps of a job, each with a label', () => {
    expect(config.steps?.map((s) => s.name)).toEqual(['avatar.create', 'video.create', 'video.poll', 'video.store']);
    for (const step of config.steps!) expect(step.label.trim()).not.toBe('');
  });

  test('the web page (messages.mjs) has an English and a Korean text for each step', () => {
    const tables = inPageModule<Record<'en' | 'ko', Record<string, unknown>>>('messages.mjs', 'm.MESSAGES');
    const missing = config.steps!.flatMap((s) => (['en', 'ko'] as const).filter((lang) => !String(tables[lang][`step.${s.name}`] ?? '').trim()).map((lang) => `${lang}: ${s.name}`));
    expect(missing).toEqual([]);
  });

  test('the command line has an English and a Korean text for each step', () => {
    const missing = config.steps!.flatMap((s) => (['en', 'ko'] as const).filter((lang) => !messagesFor(lang).steps[s.name]?.trim()).map((lang) => `${lang}: ${s.name}`));
    expect(missing).toEqual([]);
  });
});

test("the web page's formatBytes says every size as the server's does", () => {
  const MB = 1024 * 1024;
  const sizes = [0, 1, 1023, 1024, 1536, 100 * 1024, 512 * 1024, MB - 1, MB, 1.25 * MB, 10 * MB, 30 * MB, 50 * MB, 1024 * MB];
  const page = inPageModule<string[]>('format.mjs', `${JSON.stringify(sizes)}.map((n) => m.formatBytes(n))`);
  expect(page).toEqual(sizes.map(formatBytes));
  // Small files read in bytes and kilobytes, not as "0 MB".
  expect([1023, 12 * 1024, 1.25 * MB].map(formatBytes)).toEqual(['1023 B', '12 KB', '1.3 MB']);
  // What the page's hints and checks say about the limits GET /config gives.
  expect(inPageModule<string[]>('format.mjs', `[m.formatBytes(${config.upload!.image.maxBytes}), m.formatBytes(${config.upload!.audio.maxBytes})]`)).toEqual(['10 MB', '30 MB']);
});
