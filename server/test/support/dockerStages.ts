import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/*
 * The Dockerfile's stages repeated without a Docker engine, for the Dockerfile's test and the
 * image benchmark: it parses the Dockerfile, gives each stage a folder (WORKDIR /app = that
 * folder), copies what each COPY names (from the build context filtered by .dockerignore, or
 * from an earlier stage), and runs each RUN through a known equivalent. A RUN it does not know
 * throws, so a changed Dockerfile cannot silently go untested.
 *
 * Equivalents (no network, two cores, a couple of minutes at most):
 *   apt-get ...              skipped: system packages (the compiler toolchain for better-sqlite3)
 *   npm ci                   a symlink to the repository's node_modules (read-only use: tsc)
 *   npm ci --omit=dev        a copy of the repository's node_modules, then `npm prune --omit=dev
 *                            --offline`: the same production tree from the same lockfile, without
 *                            recompiling better-sqlite3 (~60 s) or reaching the registry
 *   find node_modules ...    run as written, by sh, in the stage's folder
 *   npm run build            run as is
 *   mkdir -p X && chown ...  the mkdir (there is no `node` user here)
 * The image runs Node 22; this machine runs the same files on Node 20 (package.json allows both).
 */

export const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Instruction {
  op: string;
  args: string;
}

/** One stage of the Dockerfile, repeated in a folder of its own. */
export interface Stage {
  name: string;
  base: string;
  /** The folder standing for the stage's WORKDIR. */
  dir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: string[];
  workdir?: string;
}

/** Called after each part of a RUN (split on `&&`) has been repeated. */
export type AfterRun = (stage: Stage, part: string) => void;

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

/** Bytes of the regular files under `dir`, summed recursively (symbolic links are not followed). */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(full);
    else if (entry.isFile()) total += fs.statSync(full).size;
  }
  return total;
}

/**
 * Repeats the Dockerfile's stages in `work`; returns the stages in order (the last is the
 * runtime). `afterRun` sees each RUN part once it is done (the benchmark measures there).
 */
export function buildDockerStages(work: string, options: { afterRun?: AfterRun } = {}): Stage[] {
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
      stage = parent ? { ...parent, name, dir, env: { ...parent.env } } : { name, base: m[1]!, dir, env: {} };
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
          } else if (/^find node_modules .* -delete$/.test(part)) {
            // Only ever inside the stage's own copy (never through the symlink of a dev install).
            if (fs.lstatSync(path.join(stage.dir, 'node_modules')).isSymbolicLink()) throw new Error(`${part}: node_modules is the repository's own here`);
            sh('sh', ['-c', part], stage.dir);
          } else if (part === 'npm run build') {
            sh('npm', ['run', 'build'], stage.dir);
          } else {
            throw new Error(`the Dockerfile's repetition does not know how to repeat RUN ${part}`);
          }
          options.afterRun?.(stage, part);
        }
        break;
      }
      default:
        throw new Error(`the Dockerfile's repetition does not know the instruction ${op}`);
    }
  }
  return stages;
}
