import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/ui/history/view_models/history_view_model.dart';
import 'package:avatar_jobs/utils/result.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../../testing/fakes/repositories/fake_job_repository.dart';
import '../../../../testing/models/job_fixtures.dart';

void main() {
  test('the history shows the jobs as the repository lists them, and keeps them on a later error', () async {
    final repository = FakeJobRepository();
    final viewModel = HistoryViewModel(repository: repository);
    expect(viewModel.loading, isTrue);

    repository.emitMyJobs(Result.ok([fixtureJob('completed'), fixtureJob('queued')]));
    await Future<void>.delayed(Duration.zero);
    expect(viewModel.loading, isFalse);
    expect(viewModel.jobs.map((j) => j.status.wireName), ['completed', 'queued']);

    repository.emitMyJobs(const Result.error(AppException('unavailable', 'offline')));
    await Future<void>.delayed(Duration.zero);
    expect(viewModel.error, isA<AppException>());
    expect(viewModel.jobs, hasLength(2));
    viewModel.dispose();
  });

  test('deleting a job asks the repository and drops it from the list; a failed delete puts it back', () async {
    final repository = FakeJobRepository();
    final viewModel = HistoryViewModel(repository: repository);
    final done = fixtureJob('completed');
    final queued = fixtureJob('queued');
    repository.emitMyJobs(Result.ok([done, queued]));
    await Future<void>.delayed(Duration.zero);

    expect(await viewModel.deleteJob(done.jobId), isTrue);
    expect(repository.deletedJobIds, [done.jobId]);
    expect(viewModel.jobs.map((j) => j.jobId), [queued.jobId]);

    repository.deleteResult = const Result.error(AppException('unavailable', 'offline'));
    expect(await viewModel.deleteJob(queued.jobId), isFalse);
    expect(viewModel.jobs.map((j) => j.jobId), [queued.jobId]);
    expect(viewModel.deleteError, isA<AppException>());
    viewModel.dispose();
  });
}
