import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/*
 * No Docker engine runs here, so this test repeats the Dockerfile's build in a temporary folder
 * instead: it parses the Dockerfile, gives each stage a folder (WORKDIR /app = that folder),
 * copies what each COPY names (from the build context filtered by .dockerignore, or from an
 * earlier stage), and runs each RUN through a known equivalent. A RUN it does not know fails the
 * test, so a changed Dockerfile cannot silently go untested. Then it starts the runtime stage's
 * CMD in each role and checks the routes.
 *
 * Equivalents (no network, two cores, a couple of minutes at most):
 *   apt-get ...              skipped: system packages (the compiler toolchain for better-sqlite3)
 *   npm ci                   a symlink to the repository's node_modules (read-only use: tsc)
 *   npm ci --omit=dev        a copy of the repository's node_modules, then `npm prune --omit=dev
 *                            --offline`: the same production tree from the same lockfile, without
 *                            recompiling better-sqlite3 (~60 s) or reaching the registry
 *   npm run build            run as is
 *   mkdir -p X && chown ...  the mkdir (there is no `node` user here)
 * The image runs Node 22; this machine runs the same files on Node 20 (package.json allows both).
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  base: string;
  dir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  workdir?: string;
}

function parseDockerfile(text: string): Instruction[] {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  return lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s+(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() };
    });
}

/** .dockerignore semantics: patterns match from the context root; the last match wins; `!` re-includes. */
function dockerIgnore(text: string): (rel: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
      const source = pattern
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) =>
          part === '**' || part === '**/' ? '(?:.*/)?' : part === '*' ? '[^/]*' : part === '?' ? '[^/]' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (rel) => {
    // A path is excluded when it, or a folder above it, matches (a later rule can re-include).
    const parts = rel.split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.re.test(parts.slice(0, i).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

function copyFiltered(src: string, dest: string, rel: string, ignored: (rel: string) => boolean): number {
  if (ignored(rel)) return 0;
  const stat = fs.statSync(src);
  if (!stat.isDirectory()) {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    return 1;
  }
  let count = 0;
  for (const entry of fs.readdirSync(src)) {
    count += copyFiltered(path.join(src, entry), path.join(dest, entry), `${rel}/${entry}`, ignored);
  }
  return count;
}

function sh(command: string, args: string[], cwd: string): void {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${r.stdout}\n${r.stderr}`);
}

/** Repeats the Dockerfile's stages in `work`; returns the stages by name (the last is the runtime). */
function build(work: string): Stage[] {
  const instructions = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const ignored = dockerIgnore(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8'));
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const byName = (name: string) => {
    const found = stages.find((s) => s.name === name);
    if (!found) throw new Error(`no stage named ${name}`);
    return found;
  };
  const resolveIn = (s: Stage, p: string) => path.join(s.dir, path.posix.relative(s.workdir ?? '/', path.posix.resolve(s.workdir ?? '/', p)));

  for (const { op, args } of instructions) {
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      const name = m[2] ?? `stage${stages.length}`;
      const dir = path.join(work, name);
      const parent = stages.find((s) => s.name === m[1]);
      if (parent) sh('cp', ['-a', parent.dir, dir], work);
      else fs.mkdirSync(dir, { recursive: true });
      stage = parent
        ? { ...parent, name, dir, env: { ...parent.env } }
        : { name, base: m[1]!, dir, env: {} };
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`${op} before FROM`);
    switch (op) {
      case 'WORKDIR':
        // Every path inside the stage is kept relative to its WORKDIR: stage.dir stands for it.
        stage.workdir = args;
        break;
      case 'ENV': {
        for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) stage.env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
        break;
      }
      case 'USER':
        stage.user = args;
        break;
      case 'CMD':
        stage.cmd = JSON.parse(args) as string[];
        break;
      case 'EXPOSE':
        break;
      case 'COPY': {
        const parts = args.split(' ');
        const from = parts[0]!.startsWith('--from=') ? byName(parts.shift()!.slice('--from='.length)) : undefined;
        const dest = parts.pop()!;
        for (const src of parts) {
          const target = dest.endsWith('/') ? path.join(resolveIn(stage, dest), path.basename(src)) : resolveIn(stage, dest);
          if (from) {
            const source = path.isAbsolute(src) ? resolveIn(from, src) : path.join(from.dir, src);
            fs.mkdirSync(path.dirname(target), { recursive: true }); // COPY creates the destination folder
            sh('cp', ['-a', source, target], work);
          } else {
            const copied = copyFiltered(path.join(ROOT, src), target, path.posix.normalize(src), ignored);
            if (copied === 0) throw new Error(`COPY ${src}: nothing to copy (missing, or excluded by .dockerignore)`);
          }
        }
        break;
      }
      case 'RUN': {
        for (const part of args.split('&&').map((p) => p.trim())) {
          if (/^(apt-get|rm -rf \/var\/lib\/apt)/.test(part)) continue;
          if (/^chown /.test(part)) continue;
          let m: RegExpExecArray | null;
          if ((m = /^mkdir -p (\S+)$/.exec(part))) {
            fs.mkdirSync(path.join(stage.dir, m[1]!), { recursive: true });
          } else if (/^npm ci\b.*--omit=dev/.test(part)) {
            sh('cp', ['-a', path.join(ROOT, 'node_modules'), path.join(stage.dir, 'node_modules')], work);
            sh('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], stage.dir);
          } else if (/^npm ci\b/.test(part)) {
            fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage.dir, 'node_modules'));
          } else if (part === 'npm run build') {
            sh('npm', ['run', 'build'], stage.dir);
          } else {
            throw new Error(`this test does not know how to repeat RUN ${part}`);
          }
        }
        break;
      }
      default:
        throw new Error(`this test does not know the instruction ${op}`);
    }
  }
  return stages;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  body: string;
}

/** One request on a fresh connection (no keep-alive left behind to hold the server open). */
function request(url: string, options: { method?: string; json?: unknown; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.json === undefined ? undefined : JSON.stringify(options.json);
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<Answer> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${output()}`);
    try {
      // Short timeout: service.ts listens before it attaches the app, so a request that lands in
      // that window is never answered (a known start-up race); the next attempt gets through.
      return await request(`${url}/health`, { timeoutMs: 1500 });
    } catch {
      if (Date.now() > deadline) throw new Error(`no answer from ${url}/health:\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

describe('the Dockerfile, repeated step by step without a Docker engine', () => {
  let work: string;
  let runtime: Stage;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'docker-build-'));
    const stages = build(work);
    runtime = stages[stages.length - 1]!;
  }, 240_000);
  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('the runtime stage is a supported Node LTS image running as a non-root user in production mode', () => {
    const m = /^node:(\d+)(-slim)?$/.exec(runtime.base);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(22);
    expect(runtime.user).toBe('node');
    expect(runtime.env).toMatchObject({ NODE_ENV: 'production', PORT: '8080' });
    expect(runtime.cmd).toEqual(['node', 'dist/server/src/main.js']);
  });

  test('the runtime folder holds production dependencies only, the compiled server and the web page, and no sources', () => {
    const has = (p: string) => fs.existsSync(path.join(runtime.dir, p));
    expect(has('dist/server/src/main.js')).toBe(true);
    for (const dep of ['express', 'better-sqlite3', 'firebase-admin', '@google-cloud/tasks', '@ffmpeg-installer/ffmpeg']) expect(has(`node_modules/${dep}`)).toBe(true);
    for (const dev of ['typescript', 'jest', '@swc/core', '@firestore-emulator/server']) expect(has(`node_modules/${dev}`)).toBe(false);
    expect(has('server/src/http/web/index.html')).toBe(true);
    // The web page's Firestore listener: three SDK modules, not the whole firebase package.
    for (const file of ['firebase-app.js', 'firebase-auth.js', 'firebase-firestore.js']) expect(has(`vendor/firebase/${file}`)).toBe(true);
    expect(has('node_modules/firebase')).toBe(false);
    expect(has('server/src/main.ts')).toBe(false);
    expect(has('server/test')).toBe(false);
    // Test-only servers (the GCS server, the VisionStory simulator, the Cloud Run front end) stay out.
    expect(has('server/standins')).toBe(false);
    expect(has('dist/server/standins')).toBe(false);
    expect(has('flutter_client')).toBe(false);
  });

  test.each([
    ['all', { '/jobs': 200, '/worker/process-avatar': 'not 404', '/': 200 }],
    ['api', { '/jobs': 200, '/worker/process-avatar': 404, '/': 200 }],
    ['worker', { '/jobs': 404, '/worker/process-avatar': 'not 404', '/': 404 }],
  ] as const)('started with SERVICE_ROLE=%s it answers /health on PORT and serves only its routes', async (role, expected) => {
    const port = await freePort();
    const data = fs.mkdtempSync(path.join(work, `data-${role}-`));
    const [command, ...args] = runtime.cmd!;
    expect(command).toBe('node');
    const child = spawn(process.execPath, args, {
      cwd: runtime.dir,
      env: {
        PATH: process.env.PATH,
        ...runtime.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        SERVICE_ROLE: role,
        DATA_DIR: data,
        LOG_LEVEL: 'info',
        METADATA_SERVER_DETECTION: 'none',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      const health = await waitForHealth(url, child, () => output);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toMatchObject({ success: true, role });

      const jobs = await request(`${url}/jobs`);
      expect(jobs.status).toBe(expected['/jobs']);
      const page = await request(`${url}/`);
      expect(page.status).toBe(expected['/']);
      const worker = await request(`${url}/worker/process-avatar`, { method: 'POST', json: { jobId: 'no-such-job', stepSeq: 1 } });
      if (expected['/worker/process-avatar'] === 404) expect(worker.status).toBe(404);
      else expect(worker.status).not.toBe(404);
      // Logs are JSON lines, as Cloud Logging reads them.
      const first = JSON.parse(output.split('\n').find((l) => l.startsWith('{'))!);
      expect(first).toHaveProperty('severity');
    } finally {
      child.kill('SIGTERM');
    }
    // SIGTERM drains and exits cleanly (Cloud Run sends it before stopping an instance).
    expect(await exited).toBe(0);
  }, 60_000);
});
