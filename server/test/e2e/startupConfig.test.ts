import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, loadEnvFile } from '../../src/config';
import { exitOf } from '../support/processes';

// The configuration as the service meets it at start: `npm start` as a process, and the .env
// file on disk. The schema's rules themselves are in test/unit/config.test.ts.

describe('configuration at start', () => {
  test('npm start with a bad variable exits with status 2 and says which variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', LOG_LEVEL: 'silent' },
      cwd: path.resolve(__dirname, '../../..'),
    });
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(2);
    expect(stderr).toMatch(/PORT/);
  });
});

describe('the .env file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dotenv-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('is read into the environment when it exists, and a real variable wins over the file', async () => {
    const file = path.join(dir, '.env');
    await writeFile(file, '# local settings\nPORT=9090\nLOG_LEVEL=debug\nCORS_ORIGINS="https://a.example,https://b.example"\n');
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn' };
    expect(loadEnvFile(file, env).sort()).toEqual(['CORS_ORIGINS', 'PORT']);
    expect(env).toEqual({ LOG_LEVEL: 'warn', PORT: '9090', CORS_ORIGINS: 'https://a.example,https://b.example' });
    const config = loadConfig(env);
    expect(config.port).toBe(9090);
    expect(config.logLevel).toBe('warn');
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  test('a missing file changes nothing', () => {
    const env: NodeJS.ProcessEnv = { PORT: '1' };
    expect(loadEnvFile(path.join(dir, '.env'), env)).toEqual([]);
    expect(env).toEqual({ PORT: '1' });
  });

  test('npm start reads .env from the working directory, under the real environment', async () => {
    // A bad PORT only in the file, a bad LOG_LEVEL in the file hidden by a good real one:
    // the start fails naming PORT (the file was read) and not LOG_LEVEL (the real one won).
    await writeFile(path.join(dir, '.env'), 'PORT=eighty\nLOG_LEVEL=chatty\n');
    const root = path.resolve(__dirname, '../../..');
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
    delete env.PORT;
    const child = spawn(process.execPath, ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, path.join(root, 'server/src/main.ts')], {
      env,
      cwd: dir,
    });
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(2);
    expect(stderr).toMatch(/PORT/);
    expect(stderr).not.toMatch(/LOG_LEVEL/);
  });
});
