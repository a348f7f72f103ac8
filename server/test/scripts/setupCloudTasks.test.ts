import { CloudSandbox, mutations } from './standIn';

const SCRIPT = 'setup-cloud-tasks.sh';
const RUNTIME = 'serviceAccount:avatar-runtime@demo-proj.iam.gserviceaccount.com';

describe('setup-cloud-tasks.sh against a recording gcloud stand-in', () => {
  let sandbox: CloudSandbox;
  beforeEach(() => {
    sandbox = new CloudSandbox();
  });
  afterEach(() => sandbox.cleanup());

  test('without PROJECT_ID and REGION it prints the usage line, exits 2 and calls nothing', () => {
    for (const args of [[], ['demo-proj'], ['demo-proj', 'us-central1', 'q', 'extra']]) {
      const run = sandbox.run(SCRIPT, args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^usage: setup-cloud-tasks\.sh PROJECT_ID REGION \[QUEUE\]/m);
      expect(run.calls).toEqual([]);
    }
  });

  test('an unknown option or a malformed number is refused with the usage line', () => {
    expect(sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--max-attemps=5']).status).toBe(2);
    const bad = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--min-backoff=soon']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("expected a duration like 60s, got 'soon'");
    expect(bad.calls).toEqual([]);
  });

  test('a first run enables the APIs, creates the queue with the default limits, both accounts and the roles', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('About to:');

    const changes = mutations(run.calls);
    expect(changes[0]).toMatch(/^gcloud services enable /);
    for (const api of ['cloudtasks', 'run', 'firestore', 'storage', 'iam', 'iamcredentials', 'artifactregistry', 'cloudbuild', 'secretmanager']) {
      expect(changes[0]).toContain(` ${api}.googleapis.com `);
    }
    expect(changes).toContain(
      'gcloud tasks queues create video-generation-queue --location=us-central1 --project=demo-proj ' +
        '--max-concurrent-dispatches=1000 --max-dispatches-per-second=100 --max-attempts=3 ' +
        '--min-backoff=60s --max-backoff=3600s --max-doublings=16',
    );
    expect(changes.filter((c) => c.startsWith('gcloud iam service-accounts create '))).toEqual([
      'gcloud iam service-accounts create avatar-tasks --display-name=Cloud Tasks OIDC identity for the avatar worker --project=demo-proj',
      'gcloud iam service-accounts create avatar-runtime --display-name=Runtime of the avatar api and worker services --project=demo-proj',
    ]);
    // DESIGN.md: whoever creates tasks needs cloudtasks.enqueuer, and serviceAccountUser on the tasks account.
    expect(changes).toContain(
      `gcloud tasks queues add-iam-policy-binding video-generation-queue --location=us-central1 --project=demo-proj --member=${RUNTIME} --role=roles/cloudtasks.enqueuer --format=none`,
    );
    expect(changes).toContain(
      `gcloud iam service-accounts add-iam-policy-binding avatar-tasks@demo-proj.iam.gserviceaccount.com --project=demo-proj --member=${RUNTIME} --role=roles/iam.serviceAccountUser --format=none`,
    );
    expect(changes).toContain(
      `gcloud projects add-iam-policy-binding demo-proj --member=${RUNTIME} --role=roles/datastore.user --condition=None --format=none`,
    );
    expect(changes).toContain(
      `gcloud iam service-accounts add-iam-policy-binding avatar-runtime@demo-proj.iam.gserviceaccount.com --project=demo-proj --member=${RUNTIME} --role=roles/iam.serviceAccountTokenCreator --format=none`,
    );
    // The queue exists before roles are granted on it.
    const created = changes.findIndex((c) => c.startsWith('gcloud tasks queues create'));
    const granted = changes.findIndex((c) => c.startsWith('gcloud tasks queues add-iam-policy-binding'));
    expect(created).toBeLessThan(granted);
    expect(sandbox.resources()['tasks queues/video-generation-queue']).toMatchObject({ 'retryConfig.maxAttempts': '3' });
  });

  test('a second run updates the queue, leaves the accounts alone, and still succeeds', () => {
    sandbox.run(SCRIPT, ['demo-proj', 'us-central1']);
    const again = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--max-attempts=5', '--min-backoff=30s']);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const changes = mutations(again.calls);
    expect(changes.some((c) => c.includes(' create '))).toBe(false);
    expect(changes).toContain(
      'gcloud tasks queues update video-generation-queue --location=us-central1 --project=demo-proj ' +
        '--max-concurrent-dispatches=1000 --max-dispatches-per-second=100 --max-attempts=5 ' +
        '--min-backoff=30s --max-backoff=3600s --max-doublings=16',
    );
    expect(again.stdout).toContain('Service account avatar-tasks@demo-proj.iam.gserviceaccount.com exists.');
    expect(sandbox.resources()['tasks queues/video-generation-queue']).toMatchObject({ 'retryConfig.maxAttempts': '5' });
  });

  test('a named queue and renamed accounts are used throughout', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'europe-west1', 'renders', '--tasks-sa=t-sa', '--runtime-sa=r-sa']);
    expect(run.status).toBe(0);
    expect(run.calls.filter((c) => c.includes('tasks queues')).every((c) => c.includes(' renders --location=europe-west1'))).toBe(true);
    expect(run.calls).toContain(
      'gcloud iam service-accounts add-iam-policy-binding t-sa@demo-proj.iam.gserviceaccount.com --project=demo-proj ' +
        '--member=serviceAccount:r-sa@demo-proj.iam.gserviceaccount.com --role=roles/iam.serviceAccountUser --format=none',
    );
  });

  test('a dry run prints the commands of a first run and calls gcloud not once', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--dry-run']);
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([]);
    expect(run.stdout).toContain('dry run: nothing changes');
    expect(run.stdout).toContain('+ gcloud tasks queues create video-generation-queue --location=us-central1');
    expect(run.stdout).toContain('+ gcloud iam service-accounts create avatar-tasks');
    expect(sandbox.resources()).toEqual({});
  });

  test('when a gcloud command fails the script stops there with its exit status', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1'], { env: { STANDIN_FAIL: 'service-accounts create avatar-runtime' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('PERMISSION_DENIED');
    expect(run.calls.some((c) => c.includes('add-iam-policy-binding'))).toBe(false);
  });
});
