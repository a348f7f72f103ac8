/**
 * The Flutter app keeps its own copies of product facts, so its form can refuse a wrong file
 * before a long upload: the upload rules (lib/domain/models/upload_rules.dart) and the steps a
 * job goes through (lib/domain/models/avatar_job.dart, with a label for each in every language).
 * This test reads those copies from the Dart source and holds them against what a server with
 * the default configuration serves at GET /config, so a change on either side that the other
 * does not follow fails here.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/logger';
import { startService, type RunningService } from '../../src/service';
import { FAST_ENV } from '../support/stack';

const FLUTTER = path.resolve(__dirname, '../../../flutter_client');

interface ServedFacts {
  upload: {
    image: { maxBytes: number; types: string[]; extensions: string[] };
    audio: { maxBytes: number; types: string[]; extensions: string[] };
    nameMaxChars: number;
    bioMaxChars: number;
  };
  steps: { name: string; label: string }[];
}

/** `static const name = 10 * 1024 * 1024;` → 10485760 (integer literals, `_` separators and products only). */
function dartInt(source: string, name: string): number {
  const m = new RegExp(`static const ${name} = ([\\d_\\s*]+);`).exec(source);
  if (!m) throw new Error(`upload_rules.dart has no integer constant ${name}`);
  return m[1]!.split('*').reduce((product, factor) => product * Number(factor.replace(/[_\s]/g, '')), 1);
}

/** The quoted strings of a `static const name = {…}` set or `[…]` list. */
function dartStrings(source: string, name: string): string[] {
  const m = new RegExp(`static const ${name} = [{\\[]([^}\\]]*)[}\\]];`).exec(source);
  if (!m) throw new Error(`upload_rules.dart has no string collection ${name}`);
  return [...m[1]!.matchAll(/'([^']*)'/g)].map((s) => s[1]!);
}

let service: RunningService;
let dataDir: string;
let served: ServedFacts;
let rules: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'flutter-facts-'));
  service = await startService(loadConfig({ ...FAST_ENV, DATA_DIR: dataDir }), silentLogger);
  served = (await (await fetch(`${service.url}/config`)).json()) as ServedFacts;
  rules = await readFile(path.join(FLUTTER, 'lib/domain/models/upload_rules.dart'), 'utf8');
});

afterAll(async () => {
  await service?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe("the Flutter app's copies of the product facts match GET /config", () => {
  test('the byte limits of the photo and the recording are the ones the server enforces', () => {
    expect(dartInt(rules, 'maxImageBytes')).toBe(served.upload.image.maxBytes);
    expect(dartInt(rules, 'maxAudioBytes')).toBe(served.upload.audio.maxBytes);
  });

  test('the name and bio limits are the ones the server enforces', () => {
    expect(dartInt(rules, 'maxNameLength')).toBe(served.upload.nameMaxChars);
    expect(dartInt(rules, 'maxBioLength')).toBe(served.upload.bioMaxChars);
  });

  test('every type the form accepts is one the server accepts, so the form never lets through a file the upload refuses', () => {
    const imageTypes = dartStrings(rules, 'imageTypes');
    const audioTypes = dartStrings(rules, 'audioTypes');
    expect(imageTypes.length).toBeGreaterThan(0);
    expect(audioTypes.length).toBeGreaterThan(0);
    expect(imageTypes.filter((t) => !served.upload.image.types.includes(t))).toEqual([]);
    expect(audioTypes.filter((t) => !served.upload.audio.types.includes(t))).toEqual([]);
  });

  test("the form's audio extensions and its extension → type table name only what the server accepts", () => {
    expect(dartStrings(rules, 'audioExtensions').filter((e) => !served.upload.audio.extensions.includes(e))).toEqual([]);
    const table = [...rules.matchAll(/^\s*((?:'[a-z0-9]+'(?:\s*\|\|\s*)?)+) => '([a-z]+\/[a-z0-9.+-]+)',$/gm)];
    expect(table.length).toBeGreaterThanOrEqual(7);
    const wrong: string[] = [];
    for (const [, extensions, type] of table) {
      const kind = type!.startsWith('image/') ? served.upload.image : served.upload.audio;
      if (!kind.types.includes(type!)) wrong.push(`${type} is not an accepted type`);
      for (const [, ext] of extensions!.matchAll(/'([a-z0-9]+)'/g)) if (!kind.extensions.includes(ext!)) wrong.push(`.${ext} is not an accepted extension`);
    }
    expect(wrong).toEqual([]);
  });

  test('the app knows the steps the server names, in the same order, and has a label for each in English and Korean', async () => {
    const model = await readFile(path.join(FLUTTER, 'lib/domain/models/avatar_job.dart'), 'utf8');
    const enumBody = /enum JobStep \{([^;]*);/.exec(model)?.[1] ?? '';
    const members = [...enumBody.matchAll(/(\w+)\('([^']*)'\)/g)].map(([, member, wire]) => ({ member: member!, wire: wire! }));
    const steps = members.filter((m) => m.wire !== '' && m.wire !== 'done');
    expect(steps.map((s) => s.wire)).toEqual(served.steps.map((s) => s.name));

    const missing: string[] = [];
    for (const language of ['en', 'ko']) {
      const arb = JSON.parse(await readFile(path.join(FLUTTER, 'lib/l10n', `app_${language}.arb`), 'utf8')) as Record<string, unknown>;
      for (const { member, wire } of steps) {
        const key = `step${member[0]!.toUpperCase()}${member.slice(1)}`;
        if (typeof arb[key] !== 'string' || !(arb[key] as string).trim()) missing.push(`app_${language}.arb lacks ${key} (${wire})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
