import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The repository root, where setup-cloud-tasks.sh lives. */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
const STAND_IN = path.join(__dirname, 'fixtures', 'gcloudStandIn.js');

/** One recorded call of the stand-in. */
export interface Call {
  tool: string;
  args: string[];
  stdin?: string;
}

/** The result of running a script against the stand-in. */
export interface ScriptRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every gcloud/firebase call, in order, as `gcloud a b --c=d` strings. */
  calls: string[];
  raw: Call[];
}

/**
 * A sandbox holding a `gcloud` stand-in (and optionally `firebase`) first on PATH, with its own
 * state, so a second run of a script sees what the first one made.
 */
export class CloudSandbox {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-sandbox-'));
  private readonly bin = path.join(this.dir, 'bin');
  private readonly log = path.join(this.dir, 'calls.jsonl');
  private readonly state = path.join(this.dir, 'state.json');

  constructor(options: { firebase?: boolean } = {}) {
    fs.mkdirSync(this.bin);
    for (const tool of options.firebase ? ['gcloud', 'firebase'] : ['gcloud']) {
      const file = path.join(this.bin, tool);
      fs.writeFileSync(file, `#!/bin/sh\nexec "${process.execPath}" "${STAND_IN}" ${tool} "$@"\n`);
      fs.chmodSync(file, 0o755);
    }
  }

  /** Runs `bash script args...` with the stand-in first on PATH and returns only this run's calls. */
  run(script: string, args: string[], options: { env?: Record<string, string>; input?: string } = {}): ScriptRun {
    fs.writeFileSync(this.log, '');
    const result = spawnSync('bash', [path.join(ROOT, script), ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      input: options.input ?? '',
      timeout: 30_000,
      env: {
        // Only the stand-in, node (for deploy.sh's index reader) and the basic tools: never the
        // real gcloud, even where the Cloud SDK is installed.
        PATH: [this.bin, path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
        HOME: this.dir,
        STANDIN_LOG: this.log,
        STANDIN_STATE: this.state,
        ...options.env,
      },
    });
    const raw: Call[] = fs
      .readFileSync(this.log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Call);
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      raw,
      calls: raw.map((c) => [c.tool, ...c.args].join(' ')),
    };
  }

  /** The resources the stand-in believes exist, by `group/name`. */
  resources(): Record<string, Record<string, unknown>> {
    return fs.existsSync(this.state) ? JSON.parse(fs.readFileSync(this.state, 'utf8')) : {};
  }

  /** Replaces the stand-in's resources (to start from a known project without re-running scripts). */
  setResources(resources: Record<string, Record<string, unknown>>): void {
    fs.writeFileSync(this.state, JSON.stringify(resources));
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Calls that change something (everything but describe/list). */
export function mutations(calls: string[]): string[] {
  return calls.filter((c) => !/ (describe|list) /.test(c));
}

/** What a dry run must do: succeed, call no tool, say that nothing changes, and print each of `commands`. */
export function expectDryRun(run: ScriptRun, commands: string[]): void {
  expect(run.status).toBe(0);
  expect(run.calls).toEqual([]);
  expect(run.stdout).toContain('dry run: nothing changes');
  for (const command of commands) expect(run.stdout).toContain(command);
}
