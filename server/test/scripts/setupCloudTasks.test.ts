import { CloudSandbox, expectDryRun, mutations } from './standIn';

const SCRIPT = 'setup-cloud-tasks.sh';
const API = 'serviceAccount:avatar-api@demo-proj.iam.gserviceaccount.com';
const WORKER = 'serviceAccount:avatar-worker@demo-proj.iam.gserviceaccount.com';
const TASKS_SA = 'avatar-tasks@demo-proj.iam.gserviceaccount.com';
const BUILD = 'serviceAccount:123456789-compute@developer.gserviceaccount.com';

/** The roles granted to a member, as `<role> on <what>` strings. */
function grantsOf(changes: string[], member: string): string[] {
  return changes
    .filter((c) => c.includes(' add-iam-policy-binding ') && c.includes(` --member=${member} `))
    .map((c) => {
      const role = /--role=(\S+)/.exec(c)![1];
      const on = /^gcloud (.+?) add-iam-policy-binding (\S+)/.exec(c)!;
      return `${role} on ${on[1]} ${on[2]}`;
    })
    .sort();
}

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

  test('a first run enables the APIs (FCM among them), creates the queue sized to the worker, three accounts and the roles', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('About to:');

    const changes = mutations(run.calls);
    expect(changes[0]).toMatch(/^gcloud services enable /);
    for (const api of ['cloudtasks', 'cloudscheduler', 'run', 'firestore', 'storage', 'iam', 'iamcredentials', 'artifactregistry', 'cloudbuild', 'logging', 'secretmanager', 'fcm']) {
      expect(changes[0]).toContain(` ${api}.googleapis.com `);
    }
    expect(changes).toContain(
      'gcloud tasks queues create video-generation-queue --location=us-central1 --project=demo-proj ' +
        // 10 worker instances x 20 requests each, deploy.sh's defaults: never more than the worker takes.
        '--max-concurrent-dispatches=200 --max-dispatches-per-second=100 --max-attempts=3 ' +
        '--min-backoff=60s --max-backoff=3600s --max-doublings=16',
    );
    expect(run.stdout).toContain('(the worker takes 10 instances x 20 requests = 200)');
    expect(changes.filter((c) => c.startsWith('gcloud iam service-accounts create '))).toEqual([
      'gcloud iam service-accounts create avatar-tasks --display-name=OIDC identity of the avatar tasks and sweep --project=demo-proj',
      'gcloud iam service-accounts create avatar-api --display-name=Runtime of the avatar api service --project=demo-proj',
      'gcloud iam service-accounts create avatar-worker --display-name=Runtime of the avatar worker service --project=demo-proj',
    ]);
    // DESIGN.md: whoever creates tasks needs cloudtasks.enqueuer, and serviceAccountUser on the
    // tasks account. Both services enqueue (the api a job's first task and a cancel, the worker
    // each next step); only the worker deletes tasks.
    const common = [
      'roles/cloudtasks.enqueuer on tasks queues video-generation-queue',
      'roles/cloudtasks.viewer on tasks queues video-generation-queue',
      'roles/datastore.user on projects demo-proj',
      `roles/iam.serviceAccountUser on iam service-accounts ${TASKS_SA}`,
    ];
    expect(grantsOf(changes, API)).toEqual(
      [...common, 'roles/iam.serviceAccountTokenCreator on iam service-accounts avatar-api@demo-proj.iam.gserviceaccount.com'].sort(),
    );
    expect(grantsOf(changes, WORKER)).toEqual(
      [
        ...common,
        'roles/cloudtasks.taskDeleter on tasks queues video-generation-queue',
        // The worker alone sends the job-end push (FCM HTTP v1 messages:send).
        'roles/firebasecloudmessaging.admin on projects demo-proj',
        'roles/iam.serviceAccountTokenCreator on iam service-accounts avatar-worker@demo-proj.iam.gserviceaccount.com',
      ].sort(),
    );
    expect(changes).toContain(
      `gcloud projects add-iam-policy-binding demo-proj --member=${WORKER} --role=roles/firebasecloudmessaging.admin --condition=None --format=none`,
    );
    // Nothing here touches the VisionStory secret: deploy.sh grants it to the worker alone.
    expect(changes.some((c) => c.includes('add-iam-policy-binding') && c.includes('secret'))).toBe(false);

    // The build: the project's default Cloud Build account gets exactly what a build needs.
    expect(run.calls).toContain('gcloud builds get-default-service-account --project=demo-proj --format=value(serviceAccountEmail)');
    expect(changes).toContain(
      'gcloud artifacts repositories create avatar --location=us-central1 --repository-format=docker --description=Avatar video jobs images --project=demo-proj',
    );
    expect(changes).toContain(
      'gcloud storage buckets create gs://demo-proj_cloudbuild --location=us-central1 --uniform-bucket-level-access --public-access-prevention --project=demo-proj',
    );
    expect(grantsOf(changes, BUILD)).toEqual([
      'roles/artifactregistry.writer on artifacts repositories avatar',
      'roles/logging.logWriter on projects demo-proj',
      'roles/storage.objectViewer on storage buckets gs://demo-proj_cloudbuild',
    ]);
    expect(run.stdout).toContain('Cloud Build runs as 123456789-compute@developer.gserviceaccount.com.');
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
        '--max-concurrent-dispatches=200 --max-dispatches-per-second=100 --max-attempts=5 ' +
        '--min-backoff=30s --max-backoff=3600s --max-doublings=16',
    );
    expect(again.stdout).toContain('Service account avatar-tasks@demo-proj.iam.gserviceaccount.com exists.');
    expect(again.stdout).toContain('Image repository avatar exists.');
    expect(again.stdout).toContain('Build source bucket gs://demo-proj_cloudbuild exists.');
    expect(sandbox.resources()['tasks queues/video-generation-queue']).toMatchObject({ 'retryConfig.maxAttempts': '5' });
  });

  test('a named queue and renamed accounts are used throughout', () => {
    const run = sandbox.run(SCRIPT, [
      'demo-proj', 'europe-west1', 'renders', '--tasks-sa=t-sa', '--api-sa=a-sa', '--worker-sa=w-sa', '--build-sa=builder@demo-proj.iam.gserviceaccount.com',
    ]);
    expect(run.status).toBe(0);
    expect(run.calls.filter((c) => c.includes('tasks queues')).every((c) => c.includes(' renders --location=europe-west1'))).toBe(true);
    for (const sa of ['a-sa', 'w-sa']) {
      expect(run.calls).toContain(
        'gcloud iam service-accounts add-iam-policy-binding t-sa@demo-proj.iam.gserviceaccount.com --project=demo-proj ' +
          `--member=serviceAccount:${sa}@demo-proj.iam.gserviceaccount.com --role=roles/iam.serviceAccountUser --format=none`,
      );
    }
    // A given build account is used as is: the default is not looked up.
    expect(run.calls.some((c) => c.includes('get-default-service-account'))).toBe(false);
    expect(grantsOf(run.calls, 'serviceAccount:builder@demo-proj.iam.gserviceaccount.com')).toHaveLength(3);
  });

  test('the queue never dispatches more at once than the worker can take: it follows the worker size, and a larger value is refused', () => {
    const sized = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--worker-max-instances=3', '--worker-concurrency=5']);
    expect(sized.status).toBe(0);
    expect(sized.calls.find((c) => c.startsWith('gcloud tasks queues create'))).toContain('--max-concurrent-dispatches=15 ');
    expect(sandbox.resources()['tasks queues/video-generation-queue']).toMatchObject({ 'rateLimits.maxConcurrentDispatches': '15' });

    const lower = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--max-concurrent-dispatches=50']);
    expect(lower.status).toBe(0);
    expect(lower.calls.find((c) => c.startsWith('gcloud tasks queues update'))).toContain('--max-concurrent-dispatches=50 ');

    const tooMany = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--max-concurrent-dispatches=1000']);
    expect(tooMany.status).toBe(2);
    expect(tooMany.stderr).toContain('--max-concurrent-dispatches=1000 must be 1 to 200: the worker takes at most 10 instances x 20 requests');
    expect(tooMany.calls).toEqual([]);
  });

  test('a dry run prints the commands of a first run and calls gcloud not once', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--dry-run']);
    expectDryRun(run, [
      '+ gcloud tasks queues create video-generation-queue --location=us-central1',
      '+ gcloud iam service-accounts create avatar-tasks',
      '+ gcloud iam service-accounts create avatar-worker',
      '+ gcloud projects add-iam-policy-binding demo-proj --member=serviceAccount:DEFAULT-BUILD-ACCOUNT --role=roles/logging.logWriter',
      'fcm.googleapis.com',
      '+ gcloud projects add-iam-policy-binding demo-proj --member=serviceAccount:avatar-worker@demo-proj.iam.gserviceaccount.com --role=roles/firebasecloudmessaging.admin',
    ]);
    expect(sandbox.resources()).toEqual({});
  });

  test('when a gcloud command fails the script stops there with its exit status', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1'], { env: { STANDIN_FAIL: 'service-accounts create avatar-api' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('PERMISSION_DENIED');
    expect(run.calls.some((c) => c.includes('add-iam-policy-binding'))).toBe(false);
  });
});
