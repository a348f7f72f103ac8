import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:avatar_jobs/domain/models/created_job.dart';
import 'package:avatar_jobs/domain/models/new_job_request.dart';
import 'package:avatar_jobs/ui/job/view_models/job_view_model.dart';
import 'package:avatar_jobs/utils/result.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../../testing/fakes/repositories/fake_job_repository.dart';
import '../../../../testing/fakes/services/fake_media_picker.dart';
import '../../../../testing/models/job_fixtures.dart';

void main() {
  late FakeJobRepository repository;
  late JobViewModel viewModel;
  const jobId = 'job_1';
  final now = DateTime.utc(2025, 3, 14, 9, 28, 53);

  Future<void> settle() => Future<void>.delayed(Duration.zero);

  setUp(() {
    repository = FakeJobRepository();
    viewModel = JobViewModel(jobId: jobId, repository: repository, now: () => now);
  });

  tearDown(() => viewModel.dispose());

  test('a stream of snapshots becomes loading, then each state of the job in turn', () async {
    final states = <String>[];
    viewModel.addListener(() => states.add(viewModel.job?.status.wireName ?? viewModel.state.runtimeType.toString()));
    expect(viewModel.state, isA<JobLoading>());

    repository.emitJob(jobId, Result.ok(fixtureJob('queued')));
    await settle();
    repository.emitJob(jobId, Result.ok(fixtureJob('processing')));
    await settle();

    expect(states, ['queued', 'processing']);
    final job = viewModel.job!;
    expect(job.progress.stepNumber, 3);
    expect(viewModel.elapsed, const Duration(minutes: 2));
  });

  test('when the job completes, the video is looked up once and offered to the page', () async {
    repository.emitJob(jobId, Result.ok(fixtureJob('completed')));
    await settle();
    await settle();
    repository.emitJob(jobId, Result.ok(fixtureJob('completed')));
    await settle();

    expect(viewModel.video?.url.host, 'media.test');
    expect(repository.videoRequests, hasLength(1));
  });

  test('a missing document and a refused read both show as not found; other errors as failures', () async {
    repository.emitJob(jobId, const Result.ok(null));
    await settle();
    expect(viewModel.state, isA<JobNotFound>());

    repository.emitJob(jobId, const Result.error(AppException(AppException.notFound, 'nope')));
    await settle();
    expect(viewModel.state, isA<JobNotFound>());

    repository.emitJob(jobId, const Result.error(AppException('unavailable', 'offline')));
    await settle();
    expect(viewModel.state, isA<JobLoadFailed>());
  });

  test('cancel asks the repository to cancel this job', () async {
    repository.emitJob(jobId, Result.ok(fixtureJob('processing')));
    await settle();

    await viewModel.cancel.execute();

    expect(repository.cancelledJobIds, [jobId]);
    expect(viewModel.cancel.completed, isTrue);
  });

  test('retry of a failed job asks the backend for a new job from the same files', () async {
    repository.retryResult = const Result.ok(CreatedJob(jobId: 'job_2'));
    repository.emitJob(jobId, Result.ok(fixtureJob('failed')));
    await settle();
    expect(viewModel.canRetry, isTrue);

    await viewModel.retry.execute();

    expect(repository.retriedJobIds, [jobId]);
    expect(repository.createdRequests, isEmpty);
    expect((viewModel.retry.result! as Ok<CreatedJob>).value.jobId, 'job_2');
  });

  test('a cancelled job can be retried too; a running one cannot', () async {
    repository.emitJob(jobId, Result.ok(fixtureJob('processing')));
    await settle();
    expect(viewModel.canRetry, isFalse);

    repository.emitJob(jobId, Result.ok(fixtureJob('cancelled')));
    await settle();
    expect(viewModel.canRetry, isTrue);
  });

  test('when the backend no longer has the files (410), retry asks for them again', () async {
    repository.retryResult = const Result.error(AppException('uploads_gone', 'The uploads are gone', statusCode: 410));
    repository.emitJob(jobId, Result.ok(fixtureJob('failed')));
    await settle();

    await viewModel.retry.execute();

    final error = (viewModel.retry.result! as Err<CreatedJob>).error as AppException;
    expect(error.code, AppException.retryUnavailable);
  });

  test('a missing job document (permission-denied under the rules) is "not found", not an error', () async {
    repository.emitJob(jobId, const Result.error(AppException(AppException.notFound, 'This job does not exist or is not yours')));
    await settle();

    expect(viewModel.state, isA<JobNotFound>());
  });

  test('an unknown status is kept and shown, not treated as running or finished', () async {
    repository.emitJob(jobId, Result.ok(AvatarJob.fromJson({...fixtureJson('processing'), 'status': 'paused'})));
    await settle();

    expect(viewModel.job!.status, JobStatus.unknown);
    expect(viewModel.job!.statusRaw, 'paused');
    expect(viewModel.canRetry, isFalse);
    expect(viewModel.job!.canCancel, isFalse);
  });
}
