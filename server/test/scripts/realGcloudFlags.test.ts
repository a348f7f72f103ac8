import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudSandbox, type Call } from './standIn';

// The stand-in records what the scripts call but accepts any flag. The real gcloud parses a
// command line offline, before it looks for an account: each distinct command the scripts emit
// (first run, second run, teardown) is run through it with a throw-away configuration and no
// account, and must fail at authentication, never at its arguments. (This is how the sweep job's
// update was found to need --update-headers where create takes --headers.)
const haveGcloud = (() => {
  const version = spawnSync('gcloud', ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return !version.error && version.status === 0;
})();
// About 25 gcloud starts, a minute of CPU: always under CI=true (failing without gcloud), and
// elsewhere when asked with GCLOUD_FLAG_CHECK=1.
const asked = process.env.CI === 'true' || process.env.GCLOUD_FLAG_CHECK === '1';
const check = asked ? test : test.skip;
const why = !asked
  ? ' (skipped: slow, about a minute of CPU; run with GCLOUD_FLAG_CHECK=1, CI=true always runs it)'
  : haveGcloud
    ? ''
    : ' (gcloud is not installed)';

/** Every gcloud call of a full first deployment, a second one and a teardown. */
function emittedCalls(): Call[] {
  const sandbox = new CloudSandbox();
  try {
    const runs = [
      sandbox.run('setup-cloud-tasks.sh', ['demo-proj', 'us-central1']),
      sandbox.run('infra/deploy.sh', ['demo-proj', 'us-central1', '--tag=t1'], { env: { VISIONSTORY_API_KEY: 'k' } }),
      sandbox.run('setup-cloud-tasks.sh', ['demo-proj', 'us-central1']),
      sandbox.run('infra/deploy.sh', ['demo-proj', 'us-central1', '--tag=t1']),
      sandbox.run('infra/teardown.sh', ['demo-proj', 'us-central1', '--yes', '--delete-bucket', '--delete-images']),
    ];
    for (const run of runs) expect(run.status).toBe(0);
    return runs.flatMap((r) => r.raw).filter((c) => c.tool === 'gcloud');
  } finally {
    sandbox.cleanup();
  }
}

/**
 * One call per command, the one with the most flags (the others use a subset of the same flags
 * on the same command): each gcloud start costs seconds of CPU.
 */
function distinct(calls: Call[]): Call[] {
  const seen = new Map<string, Call>();
  for (const call of calls) {
    const words = call.args.filter((a) => !a.startsWith('-'));
    // The command path: the words before the resource name (scheduler jobs create http NAME).
    const command = words.slice(0, words[0] === 'scheduler' ? 4 : words[0] === 'projects' || words[0] === 'services' ? 2 : 3).join(' ');
    const kept = seen.get(command);
    if (!kept || call.args.length > kept.args.length) seen.set(command, call);
  }
  return [...seen.values()];
}

function runGcloud(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('gcloud', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // A command that gets past parsing without an account must not hang the suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr: status === null ? `no answer in 45 s ${stderr}` : stderr });
    });
  });
}

describe('deployment scripts against the real gcloud', () => {
  check(
    `every command line they emit parses, failing only for want of an account${why}`,
    async () => {
      if (!haveGcloud) throw new Error('gcloud is not installed: CI must check the scripts\' command lines against it');
      const config = fs.mkdtempSync(path.join(os.tmpdir(), 'gcloud-config-'));
      // builds submit with --tag checks the source has a Dockerfile before asking for an account.
      const emptySource = fs.mkdtempSync(path.join(os.tmpdir(), 'build-source-'));
      fs.writeFileSync(path.join(emptySource, 'Dockerfile'), 'FROM scratch\n');
      fs.writeFileSync(path.join(emptySource, '.dockerignore'), '\n');
      const env = {
        ...process.env,
        CLOUDSDK_CONFIG: config,
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
        CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
        CLOUDSDK_CORE_DISABLE_PROMPTS: 'true',
      };
      try {
        const calls = distinct(emittedCalls());
        expect(calls.length).toBeGreaterThan(15);
        // Every kind of change the scripts make is among them, the sweep's create and update too.
        const names = calls.map((c) => c.args.slice(0, 4).join(' '));
        expect(names).toEqual(expect.arrayContaining(['scheduler jobs create http', 'scheduler jobs update http', 'scheduler jobs delete avatar-sweep']));
        const problems: string[] = [];
        // Two at a time: each gcloud start costs a few seconds of CPU on a 2-core machine.
        const queue = [...calls];
        const worker = async () => {
          for (let call = queue.shift(); call; call = queue.shift()) {
            // builds submit would pack the repository before asking for an account.
            const args = call.args.map((a) => (a === path.resolve(__dirname, '../../..') ? emptySource : a));
            const { status, stderr } = await runGcloud(args, env);
            const authOnly = status === 1 && /active account|gcloud auth login|credentials/i.test(stderr);
            if (!authOnly) problems.push(`gcloud ${call.args.join(' ')}\n  exit ${status}: ${stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
          }
        };
        await Promise.all([worker(), worker()]);
        expect(problems).toEqual([]);
      } finally {
        fs.rmSync(config, { recursive: true, force: true });
        fs.rmSync(emptySource, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
