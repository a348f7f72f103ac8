import { CloudSandbox, mutations } from './standIn';

const SCRIPT = 'infra/teardown.sh';

describe('infra/teardown.sh against a recording gcloud stand-in', () => {
  let deployed: Record<string, Record<string, unknown>>;
  let sandbox: CloudSandbox;
  beforeAll(() => {
    // What setup and deploy leave behind, made once and given to each test.
    const first = new CloudSandbox();
    expect(first.run('setup-cloud-tasks.sh', ['demo-proj', 'us-central1']).status).toBe(0);
    expect(first.run('infra/deploy.sh', ['demo-proj', 'us-central1', '--tag=t1'], { env: { VISIONSTORY_API_KEY: 'k' } }).status).toBe(0);
    deployed = first.resources();
    first.cleanup();
  });
  beforeEach(() => {
    sandbox = new CloudSandbox();
    sandbox.setResources(deployed);
  });
  afterEach(() => sandbox.cleanup());

  test('without PROJECT_ID and REGION it prints the usage line, exits 2 and calls nothing', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^usage: teardown\.sh PROJECT_ID REGION/m);
    expect(run.calls).toEqual([]);
  });

  test('without --yes, anything but the project id typed back aborts with nothing deleted', () => {
    for (const input of ['', 'y\n', 'other-proj\n']) {
      const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1'], { input });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('Aborted: nothing was deleted.');
      expect(mutations(run.calls)).toEqual([]);
    }
  });

  test('typing the project id deletes the sweep job, the services, the queue and the three accounts, and keeps the bucket', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1'], { input: 'demo-proj\n' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(mutations(run.calls)).toEqual([
      'gcloud scheduler jobs delete avatar-sweep --location=us-central1 --quiet --project=demo-proj',
      'gcloud run services delete avatar-api --region=us-central1 --quiet --project=demo-proj',
      'gcloud run services delete avatar-worker --region=us-central1 --quiet --project=demo-proj',
      'gcloud tasks queues delete video-generation-queue --location=us-central1 --quiet --project=demo-proj',
      'gcloud iam service-accounts delete avatar-tasks@demo-proj.iam.gserviceaccount.com --quiet --project=demo-proj',
      'gcloud iam service-accounts delete avatar-api@demo-proj.iam.gserviceaccount.com --quiet --project=demo-proj',
      'gcloud iam service-accounts delete avatar-worker@demo-proj.iam.gserviceaccount.com --quiet --project=demo-proj',
      // The kept bucket loses its lifecycle rules.
      'gcloud storage buckets update gs://demo-proj-avatar-videos --clear-lifecycle --project=demo-proj',
      'gcloud firestore fields ttls update expireAt --collection-group=avatarJobs --disable-ttl --async --quiet --project=demo-proj',
    ]);
    expect(sandbox.resources()['scheduler jobs/avatar-sweep']).toBeUndefined();
    expect(Object.keys(sandbox.resources())).toContain('storage buckets/gs://demo-proj-avatar-videos');
    expect(run.stdout).toContain('keeping bucket gs://demo-proj-avatar-videos');
  });

  test('--delete-bucket and --delete-images remove the stored media and the images too; a second run finds everything gone', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes', '--delete-bucket', '--delete-images']);
    expect(run.status).toBe(0);
    expect(mutations(run.calls)).toContain('gcloud storage rm --recursive gs://demo-proj-avatar-videos --project=demo-proj');
    expect(mutations(run.calls)).toContain('gcloud artifacts repositories delete avatar --location=us-central1 --quiet --project=demo-proj');
    // Left on purpose: the database, the key, and the build source bucket (listed in the output).
    expect(Object.keys(sandbox.resources()).filter((k) => !k.startsWith('firestore') && !k.startsWith('secrets'))).toEqual([
      'storage buckets/gs://demo-proj_cloudbuild',
    ]);
    expect(run.stdout).toContain('the build source bucket gs://demo-proj_cloudbuild');

    const again = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes', '--delete-bucket', '--delete-images']);
    expect(again.status).toBe(0);
    expect(mutations(again.calls)).toEqual([]);
    expect(again.stdout).toContain('Queue video-generation-queue is already gone.');
    expect(again.stdout).toContain('Sweep job avatar-sweep is already gone.');
  });

  test('the webhook secret stays unless --delete-webhook-secret; with it the secret is deleted once and a second run finds it gone', () => {
    expect(deployed['secrets/webhook-secret']).toBeDefined();
    const kept = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes']);
    expect(kept.status).toBe(0);
    expect(mutations(kept.calls).some((c) => c.startsWith('gcloud secrets delete'))).toBe(false);
    expect(sandbox.resources()['secrets/webhook-secret']).toBeDefined();
    expect(kept.stdout).toContain('keeping the webhook secret webhook-secret: add --delete-webhook-secret to delete it');

    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes', '--delete-webhook-secret']);
    expect(run.status).toBe(0);
    // Only the webhook secret: the VisionStory key is the user's and always stays.
    expect(mutations(run.calls).filter((c) => c.startsWith('gcloud secrets'))).toEqual([
      'gcloud secrets delete webhook-secret --quiet --project=demo-proj',
    ]);
    expect(sandbox.resources()['secrets/webhook-secret']).toBeUndefined();
    expect(sandbox.resources()['secrets/visionstory-api-key']).toBeDefined();

    const again = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes', '--delete-webhook-secret']);
    expect(again.status).toBe(0);
    expect(mutations(again.calls).filter((c) => c.startsWith('gcloud secrets'))).toEqual([]);
    expect(again.stdout).toContain('Secret webhook-secret is already gone.');
  });

  test('after a deploy, teardown removes the TTL policy on avatarJobs.expireAt; a second run finds it gone', () => {
    const setup = sandbox.run('setup-cloud-tasks.sh', ['demo-proj', 'us-central1']);
    expect(setup.status).toBe(0);
    expect(sandbox.run('infra/deploy.sh', ['demo-proj', 'us-central1', '--tag=t1'], { env: { VISIONSTORY_API_KEY: 'k' } }).status).toBe(0);
    expect(sandbox.resources()['firestore fields ttls/expireAt']).toMatchObject({ 'ttlConfig.state': 'ACTIVE' });
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes']);
    expect(run.status).toBe(0);
    expect(mutations(run.calls)).toContain(
      'gcloud firestore fields ttls update expireAt --collection-group=avatarJobs --disable-ttl --async --quiet --project=demo-proj',
    );
    expect(sandbox.resources()['firestore fields ttls/expireAt']).toBeUndefined();
    const again = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--yes']);
    expect(mutations(again.calls).filter((c) => c.includes('ttls'))).toEqual([]);
    expect(again.stdout).toContain('No TTL policy on avatarJobs.expireAt.');
  });

  test('a dry run lists every deletion without calling gcloud or asking', () => {
    const run = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--dry-run', '--delete-bucket']);
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([]);
    expect(run.stdout).toContain('+ gcloud run services delete avatar-api');
    expect(run.stdout).toContain('+ gcloud scheduler jobs delete avatar-sweep --location=us-central1 --quiet');
    expect(run.stdout).toContain('+ gcloud storage rm --recursive gs://demo-proj-avatar-videos');
    expect(run.stdout).not.toContain('+ gcloud secrets delete');
    const withSecret = sandbox.run(SCRIPT, ['demo-proj', 'us-central1', '--dry-run', '--delete-webhook-secret']);
    expect(withSecret.calls).toEqual([]);
    expect(withSecret.stdout).toContain('+ gcloud secrets delete webhook-secret --quiet --project=demo-proj');
    expect(Object.keys(sandbox.resources())).toContain('run services/avatar-api');
  });
});
