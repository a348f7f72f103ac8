import { CloudSandbox, ROOT, expectDryRun, mutations } from './standIn';

const SCRIPT = 'infra/deploy.sh';
const SETUP = 'setup-cloud-tasks.sh';
const IMAGE = 'us-central1-docker.pkg.dev/demo-proj/avatar/avatar-video-jobs:t1';
const WORKER_BASE = 'https://avatar-worker-abc123-uc.a.run.app';
const KEY = 'vs-key-that-must-not-leak';
const API_SA = 'avatar-api@demo-proj.iam.gserviceaccount.com';
const WORKER_SA = 'avatar-worker@demo-proj.iam.gserviceaccount.com';
const TASKS_SA = 'avatar-tasks@demo-proj.iam.gserviceaccount.com';

function envVarsOf(call: string): Record<string, string> {
  const m = /--(?:set|update)-env-vars=(\S+)/.exec(call);
  if (!m) throw new Error(`no env vars in: ${call}`);
  return Object.fromEntries(m[1]!.split(',').map((kv) => kv.split('=', 2) as [string, string]));
}

describe('infra/deploy.sh against a recording gcloud stand-in', () => {
  let sandbox: CloudSandbox;
  beforeEach(() => {
    sandbox = new CloudSandbox();
  });
  afterEach(() => sandbox.cleanup());

  const deploy = (extra: string[] = [], env: Record<string, string> = { VISIONSTORY_API_KEY: KEY }) =>
    sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--tag=t1', ...extra], { env });

  test('without PROJECT_ID and REGION it prints the usage line, exits 2 and calls nothing', () => {
    for (const args of [[], ['demo-proj'], ['demo-proj', 'us-central1', 'extra']]) {
      const run = sandbox.run(SCRIPT, args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^usage: deploy\.sh PROJECT_ID REGION/m);
      expect(run.calls).toEqual([]);
    }
  });

  test('a worker timeout not above the dispatch deadline is refused before anything runs', () => {
    const run = deploy(['--dispatch-deadline=900', '--worker-timeout=900']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--worker-timeout must be above the dispatch deadline (900)');
    expect(run.calls).toEqual([]);
  });

  test('before setup-cloud-tasks.sh has run it stops and says to run it, changing nothing', () => {
    const run = deploy();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('run ./setup-cloud-tasks.sh demo-proj us-central1 video-generation-queue first');
    expect(mutations(run.calls)).toEqual([]);
  });

  test('a first run makes the secret, bucket, database, indexes and image, then the private worker with its own URL, the sweep job, then the public api', () => {
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1', '--max-attempts=4']).status).toBe(0);
    const run = deploy();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const changes = mutations(run.calls);
    const at = (prefix: string) => {
      const i = changes.findIndex((c) => c.startsWith(prefix));
      if (i < 0) throw new Error(`no call starting with "${prefix}" in:\n${changes.join('\n')}`);
      return i;
    };

    // The key travels on stdin, never on a command line or in the output.
    const secret = run.raw.find((c) => c.args.slice(0, 3).join(' ') === 'secrets create visionstory-api-key')!;
    expect(secret.stdin).toBe(KEY);
    expect(run.calls.join('\n')).not.toContain(KEY);
    expect(run.stdout).not.toContain(KEY);
    // Only the worker calls VisionStory: it alone may read the key.
    expect(changes.filter((c) => c.startsWith('gcloud secrets add-iam-policy-binding visionstory-api-key'))).toEqual([
      `gcloud secrets add-iam-policy-binding visionstory-api-key --member=serviceAccount:${WORKER_SA} --role=roles/secretmanager.secretAccessor --format=none --project=demo-proj`,
    ]);
    // The webhook secret is generated, on stdin too, and never shown: whsec_ + base64 of 32 bytes.
    const webhook = run.raw.find((c) => c.args.slice(0, 3).join(' ') === 'secrets create webhook-secret')!;
    expect(webhook.args).toContain('--data-file=-');
    expect(webhook.stdin).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(webhook.stdin!.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(run.stdout).not.toContain(webhook.stdin!.slice('whsec_'.length));
    expect(run.stderr).not.toContain(webhook.stdin!.slice('whsec_'.length));
    expect(run.calls.join('\n')).not.toContain(webhook.stdin!.slice('whsec_'.length));
    // The api refuses a callbackUrl without it and the worker signs with it: both read it, no one else.
    expect(changes.filter((c) => c.startsWith('gcloud secrets add-iam-policy-binding webhook-secret'))).toEqual([
      `gcloud secrets add-iam-policy-binding webhook-secret --member=serviceAccount:${API_SA} --role=roles/secretmanager.secretAccessor --format=none --project=demo-proj`,
      `gcloud secrets add-iam-policy-binding webhook-secret --member=serviceAccount:${WORKER_SA} --role=roles/secretmanager.secretAccessor --format=none --project=demo-proj`,
    ]);
    expect(at('gcloud secrets create webhook-secret')).toBeLessThan(at('gcloud secrets add-iam-policy-binding webhook-secret'));

    at('gcloud storage buckets create gs://demo-proj-avatar-videos --location=us-central1 --uniform-bucket-level-access --public-access-prevention');
    at(`gcloud storage buckets add-iam-policy-binding gs://demo-proj-avatar-videos --member=serviceAccount:${API_SA} --role=roles/storage.objectAdmin`);
    at(`gcloud storage buckets add-iam-policy-binding gs://demo-proj-avatar-videos --member=serviceAccount:${WORKER_SA} --role=roles/storage.objectAdmin`);
    at('gcloud firestore databases create --database=(default) --location=us-central1 --type=firestore-native');
    // The owner-list index from infra/firestore.indexes.json (Firestore appends __name__ itself).
    expect(changes).toContain(
      'gcloud firestore indexes composite create --collection-group=avatarJobs --query-scope=collection ' +
        '--field-config=field-path=ownerUid,order=ascending --field-config=field-path=createdAt,order=descending --async --project=demo-proj',
    );
    // The sweep's query: status in [queued, processing], nextRunAt <= cutoff, ordered by nextRunAt.
    expect(changes).toContain(
      'gcloud firestore indexes composite create --collection-group=avatarJobs --query-scope=collection ' +
        '--field-config=field-path=status,order=ascending --field-config=field-path=nextRunAt,order=ascending --async --project=demo-proj',
    );
    expect(run.stdout).toContain('the Firestore security rules were NOT deployed');

    // Staged in the bucket setup-cloud-tasks.sh made and let the build account read; the image
    // repository is setup's too.
    const build = at(`gcloud builds submit ${ROOT} --tag=${IMAGE} --ignore-file=.dockerignore --gcs-source-staging-dir=gs://demo-proj_cloudbuild/source`);
    expect(changes.some((c) => c.startsWith('gcloud artifacts repositories create'))).toBe(false);

    const workerDeploy = at('gcloud run deploy avatar-worker ');
    const workerUpdate = at('gcloud run services update avatar-worker ');
    const invoker = at('gcloud run services add-iam-policy-binding avatar-worker ');
    const sweep = at('gcloud scheduler jobs create http avatar-sweep ');
    const apiDeploy = at('gcloud run deploy avatar-api ');
    expect(build).toBeLessThan(workerDeploy);
    expect(workerDeploy).toBeLessThan(workerUpdate);
    expect(workerUpdate).toBeLessThan(sweep);
    expect(invoker).toBeLessThan(sweep);
    expect(workerUpdate).toBeLessThan(apiDeploy);

    // Every 5 minutes, POST /worker/sweep with a token of the tasks account for the worker's audience.
    const sweepJob = run.raw.find((c) => c.args.slice(0, 5).join(' ') === 'scheduler jobs create http avatar-sweep')!.args;
    for (const flag of ['--location=us-central1', '--schedule=*/5 * * * *', `--uri=${WORKER_BASE}/worker/sweep`, '--http-method=post',
      `--oidc-service-account-email=${TASKS_SA}`, `--oidc-token-audience=${WORKER_BASE}`, '--headers=Content-Type=application/json',
      '--message-body={}', '--project=demo-proj']) {
      expect(sweepJob).toContain(flag);
    }
    expect(sandbox.resources()['scheduler jobs/avatar-sweep']).toMatchObject({ uri: `${WORKER_BASE}/worker/sweep` });

    const worker = changes[workerDeploy]!;
    for (const flag of [`--image=${IMAGE}`, '--no-allow-unauthenticated', '--timeout=900', '--min-instances=0',
      `--service-account=${WORKER_SA}`, '--set-secrets=VISIONSTORY_API_KEY=visionstory-api-key:latest,WEBHOOK_SECRET=webhook-secret:latest',
      '--concurrency=20', '--max-instances=10']) {
      expect(worker.split(' ')).toContain(flag);
    }
    expect(envVarsOf(worker)).toMatchObject({
      SERVICE_ROLE: 'worker',
      GOOGLE_CLOUD_PROJECT: 'demo-proj',
      CLOUD_TASKS_LOCATION: 'us-central1',
      CLOUD_TASKS_QUEUE: 'video-generation-queue',
      TASKS_SERVICE_ACCOUNT: 'avatar-tasks@demo-proj.iam.gserviceaccount.com',
      GCS_BUCKET: 'demo-proj-avatar-videos',
      // Read back from the queue setup made, so the worker knows which attempt is the last.
      TASK_MAX_ATTEMPTS: '4',
      TASK_DISPATCH_DEADLINE: '600',
    });
    // The worker's URL is known only once it exists: the script sets it right after, unasked.
    expect(envVarsOf(changes[workerUpdate]!)).toEqual({ WORKER_URL: `${WORKER_BASE}/worker/process-avatar`, WORKER_AUDIENCE: WORKER_BASE });
    expect(changes[invoker]).toContain('--member=serviceAccount:avatar-tasks@demo-proj.iam.gserviceaccount.com --role=roles/run.invoker');

    const api = changes[apiDeploy]!;
    expect(api.split(' ')).toContain('--allow-unauthenticated');
    expect(api.split(' ')).toContain(`--image=${IMAGE}`);
    // Uploads reach 40 MB; Cloud Run refuses HTTP/1 requests over 32 MiB.
    expect(api.split(' ')).toContain('--use-http2');
    // Its own account, the webhook secret and no provider key: --set-secrets replaces the whole
    // list, so it also drops a key an older revision had.
    expect(api.split(' ')).toContain(`--service-account=${API_SA}`);
    expect(api.split(' ')).toContain('--set-secrets=WEBHOOK_SECRET=webhook-secret:latest');
    expect(api).not.toContain('VISIONSTORY_API_KEY');
    expect(envVarsOf(api)).toMatchObject({
      SERVICE_ROLE: 'api',
      HTTP2_CLEARTEXT: 'true',
      WORKER_URL: `${WORKER_BASE}/worker/process-avatar`,
      WORKER_AUDIENCE: WORKER_BASE,
      TASKS_SERVICE_ACCOUNT: 'avatar-tasks@demo-proj.iam.gserviceaccount.com',
      PROVIDER: 'visionstory',
    });
    expect(run.stdout).toContain('api:    https://avatar-api-abc123-uc.a.run.app');
  });

  test('retention: lifecycle rules by prefix count from the job end (customTime), the TTL policy is on expireAt, and the services get the same days', () => {
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1']).status).toBe(0);
    const run = deploy([], { VISIONSTORY_API_KEY: KEY, UPLOAD_RETENTION_DAYS: '5', VIDEO_RETENTION_DAYS: '20', JOB_RETENTION_DAYS: '60' });
    expect(run.status).toBe(0);
    const changes = mutations(run.calls);
    expect(changes.some((c) => /^gcloud storage buckets update gs:\/\/demo-proj-avatar-videos --lifecycle-file=\S+ --project=demo-proj$/.test(c))).toBe(true);
    expect(changes).toContain('gcloud firestore fields ttls update expireAt --collection-group=avatarJobs --enable-ttl --async --quiet --project=demo-proj');
    expect(run.stdout).toContain('uploads 5 days, videos 20 days after the job ended (backstop: 62 days after upload)');
    for (const service of ['avatar-worker', 'avatar-api']) {
      const call = changes.find((c) => c.startsWith(`gcloud run deploy ${service} `))!;
      expect(envVarsOf(call)).toMatchObject({ UPLOAD_RETENTION_DAYS: '5', VIDEO_RETENTION_DAYS: '20', JOB_RETENTION_DAYS: '60' });
    }
  });

  test('retention days that are not whole numbers stop the deploy before the services change', () => {
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1']).status).toBe(0);
    const run = deploy([], { VISIONSTORY_API_KEY: KEY, VIDEO_RETENTION_DAYS: '0.5' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('retention days must be whole numbers of days (got 0.5)');
    expect(mutations(run.calls).some((c) => c.startsWith('gcloud run deploy'))).toBe(false);
  });

  test('a second run creates nothing and deploys the worker with its URL in one step', () => {
    sandbox.run(SETUP, ['demo-proj', 'us-central1']);
    expect(deploy().status).toBe(0);
    const again = deploy([], {});
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const changes = mutations(again.calls);
    // Index creation is attempted and answered ALREADY_EXISTS, which the script accepts.
    expect(changes.filter((c) => / create /.test(c) && !c.includes('firestore indexes'))).toEqual([]);
    expect(again.stdout).toContain('Index exists already.');
    expect(again.stdout).toContain('Secret visionstory-api-key exists');
    // The webhook secret is kept (receivers verify with it), and still readable by both accounts.
    expect(again.raw.some((c) => c.args[0] === 'secrets' && c.args[1] === 'create')).toBe(false);
    expect(again.stdout).toContain('Secret webhook-secret exists');
    expect(changes.filter((c) => c.startsWith('gcloud secrets add-iam-policy-binding webhook-secret'))).toHaveLength(2);
    expect(changes.some((c) => c.startsWith('gcloud run services update'))).toBe(false);
    // The sweep job is updated in place (update spells the headers flag differently).
    const sweep = again.raw.find((c) => c.args.slice(0, 4).join(' ') === 'scheduler jobs update http')!.args;
    expect(sweep).toContain('avatar-sweep');
    expect(sweep).toContain('--update-headers=Content-Type=application/json');
    expect(sweep).toContain(`--oidc-service-account-email=${TASKS_SA}`);
    expect(again.stdout).toContain('Sweep job avatar-sweep exists: updating it.');
    const worker = changes.find((c) => c.startsWith('gcloud run deploy avatar-worker '))!;
    expect(envVarsOf(worker)).toMatchObject({ SERVICE_ROLE: 'worker', WORKER_URL: `${WORKER_BASE}/worker/process-avatar` });
  });

  test('a queue that dispatches more at once than the worker can take stops the deploy before anything changes', () => {
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1']).status).toBe(0);
    // setup sized the queue for 10 x 20 = 200; a smaller worker would be flooded.
    const run = deploy(['--max-instances=5']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('dispatches up to 200 tasks at once, but the worker takes only 5 instances x 20 requests = 100');
    expect(run.stderr).toContain('--worker-max-instances=5 --worker-concurrency=20');
    expect(mutations(run.calls)).toEqual([]);

    // Sized down by setup as the message says, the same deploy goes through.
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1', '--worker-max-instances=5']).status).toBe(0);
    const fixed = deploy(['--max-instances=5']);
    expect(fixed.stderr).toBe('');
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toContain('max-concurrent-dispatches 100 (the worker takes 100)');
  });

  test('before setup has made the image repository a build stops and says to run it', () => {
    expect(sandbox.run(SETUP, ['demo-proj', 'us-central1']).status).toBe(0);
    const state = sandbox.resources();
    delete state['artifacts repositories/avatar'];
    sandbox.setResources(state);
    const run = deploy();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('image repository avatar not found in us-central1: run ./setup-cloud-tasks.sh demo-proj us-central1 --repository=avatar first');
    expect(mutations(run.calls)).toEqual([]);
  });

  test('without the key in the environment or Secret Manager it stops with instructions', () => {
    sandbox.run(SETUP, ['demo-proj', 'us-central1']);
    const run = deploy([], {});
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('secret visionstory-api-key not found');
    expect(mutations(run.calls)).toEqual([]);
  });

  test('with the Firebase CLI on PATH, rules and indexes are deployed by it from infra/', () => {
    const withFirebase = new CloudSandbox({ firebase: true });
    try {
      withFirebase.run(SETUP, ['demo-proj', 'us-central1']);
      const run = withFirebase.run(SCRIPT, ['demo-proj', 'us-central1', '--tag=t1'], { env: { VISIONSTORY_API_KEY: KEY } });
      expect(run.status).toBe(0);
      expect(run.calls).toContain(
        `firebase deploy --only firestore:rules,firestore:indexes --project=demo-proj --config=${ROOT}/infra/firebase.json --non-interactive`,
      );
      expect(run.calls.some((c) => c.includes('firestore indexes composite create'))).toBe(false);
    } finally {
      withFirebase.cleanup();
    }
  });

  test('--image deploys an existing image without building', () => {
    sandbox.run(SETUP, ['demo-proj', 'us-central1']);
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--image=gcr.io/x/y:z'], { env: { VISIONSTORY_API_KEY: KEY } });
    expect(run.status).toBe(0);
    expect(run.calls.some((c) => c.startsWith('gcloud builds submit') || c.startsWith('gcloud artifacts'))).toBe(false);
    expect(run.calls.filter((c) => c.startsWith('gcloud run deploy ')).every((c) => c.includes('--image=gcr.io/x/y:z'))).toBe(true);
  });

  test('--webhook-secret names the secret that is made, granted and mounted as WEBHOOK_SECRET on both services', () => {
    sandbox.run(SETUP, ['demo-proj', 'us-central1']);
    const run = deploy(['--webhook-secret=hooks-key']);
    expect(run.status).toBe(0);
    expect(sandbox.resources()['secrets/hooks-key']).toBeDefined();
    expect(sandbox.resources()['secrets/webhook-secret']).toBeUndefined();
    const changes = mutations(run.calls);
    expect(changes.filter((c) => c.startsWith('gcloud secrets add-iam-policy-binding hooks-key'))).toHaveLength(2);
    for (const service of ['avatar-worker', 'avatar-api']) {
      expect(changes.find((c) => c.startsWith(`gcloud run deploy ${service} `))).toContain('WEBHOOK_SECRET=hooks-key:latest');
    }
  });

  test('a dry run prints a whole first deployment and calls gcloud not once', () => {
    const run = deploy(['--dry-run'], {});
    expectDryRun(run, [
      '+ gcloud run deploy avatar-worker',
      '+ gcloud run services update avatar-worker',
      '+ gcloud run deploy avatar-api',
      "+ gcloud scheduler jobs create http avatar-sweep --location=us-central1 --schedule=\\*/5\\ \\*\\ \\*\\ \\*\\ \\*",
      '--uri=https://WORKER-URL/worker/sweep',
      '+ gcloud secrets create webhook-secret --replication-policy=automatic --data-file=- --project=demo-proj  # a generated whsec_ secret on stdin',
      '+ gcloud secrets add-iam-policy-binding webhook-secret --member=serviceAccount:avatar-api@demo-proj.iam.gserviceaccount.com',
    ]);
    expect(run.stdout).not.toMatch(/whsec_[A-Za-z0-9+/]{20}/);
    expect(sandbox.resources()).toEqual({});
  });
});
