// Jest global setup and teardown for the shared Google Firestore emulator (see
// googleFirestoreEmulator.ts). Setup starts nothing: it only makes the run's folder, so a run that
// touches no Firestore test costs no JVM. Teardown stops the emulator if a test file started it,
// by its process group (gcloud runs it as bash → java: killing gcloud alone leaves java running).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const RUN_DIR_VARIABLE = 'TEST_GOOGLE_FIRESTORE_EMULATOR_DIR';
const GIVEN_HOST_VARIABLE = 'TEST_GIVEN_FIRESTORE_EMULATOR_HOST';

async function setup() {
  process.env[RUN_DIR_VARIABLE] = fs.mkdtempSync(path.join(os.tmpdir(), 'google-firestore-emulator-'));
  process.env[GIVEN_HOST_VARIABLE] = process.env.FIRESTORE_EMULATOR_HOST ?? '';
}

async function teardown() {
  const dir = process.env[RUN_DIR_VARIABLE];
  if (!dir) return;
  const pidFile = path.join(dir, 'pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (pid > 0 && alive()) {
      process.kill(-pid, 'SIGTERM');
      const deadline = Date.now() + 5000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (alive()) process.kill(-pid, 'SIGKILL');
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = setup;
module.exports.teardown = teardown;
