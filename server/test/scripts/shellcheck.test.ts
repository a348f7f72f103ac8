import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './standIn';

const SCRIPTS = ['setup-cloud-tasks.sh', 'infra/deploy.sh', 'infra/teardown.sh'];

// CI (CI=true; .ci/run installs shellcheck) always runs the lint and fails without it, so an
// unchecked script cannot pass CI quietly. Elsewhere a missing shellcheck skips it, saying why.
const haveShellcheck = (() => {
  const version = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  return !version.error && version.status === 0;
})();
const lint = haveShellcheck || process.env.CI === 'true' ? test : test.skip;

describe('deployment scripts', () => {
  lint(`shellcheck finds nothing to complain about in any of them${haveShellcheck ? '' : ' (skipped: shellcheck is not installed: apt-get install shellcheck)'}`, () => {
    if (!haveShellcheck) {
      throw new Error('shellcheck is not installed; install it with: apt-get update && apt-get install -y shellcheck');
    }
    // -x follows `source infra/lib.sh` (paths in the directives are relative to the repository).
    const run = spawnSync('shellcheck', ['-x', '--severity=style', '--shell=bash', ...SCRIPTS.map((s) => path.join(ROOT, s))], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  test('each one runs under bash with errexit, nounset and pipefail', () => {
    const fs = require('node:fs') as typeof import('node:fs');
    for (const script of SCRIPTS) {
      const text = fs.readFileSync(path.join(ROOT, script), 'utf8');
      expect(text.startsWith('#!/usr/bin/env bash\n')).toBe(true);
      expect(text).toMatch(/^set -euo pipefail$/m);
      // Executable in git, so `./setup-cloud-tasks.sh` works from a fresh clone.
      expect(fs.statSync(path.join(ROOT, script)).mode & 0o111).not.toBe(0);
    }
  });
});
