import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:avatar_jobs/ui/job/view_models/job_view_model.dart';
import 'package:avatar_jobs/ui/job/widgets/job_screen.dart';
import 'package:avatar_jobs/utils/result.dart';
import 'package:flutter/material.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../../testing/fakes/repositories/fake_job_repository.dart';
import '../../../../testing/models/job_fixtures.dart';

void main() {
  const jobId = 'job_1';
  final now = DateTime.utc(2025, 3, 14, 9, 27, 53);

  /// Shows the job page for [job] and returns its view model; the test disposes it.
  Future<(JobViewModel, FakeJobRepository)> showJob(WidgetTester tester, AvatarJob job) async {
    final repository = FakeJobRepository();
    final viewModel = JobViewModel(jobId: jobId, repository: repository, now: () => now);
    await tester.pumpWidget(MaterialApp(
      home: JobScreen(
        viewModel: viewModel,
        onOpenJob: (_) {},
        onStartAgain: (_) {},
        videoPlayerBuilder: (context, source) => Text('player for ${source.url}'),
      ),
    ));
    expect(find.byType(CircularProgressIndicator), findsOneWidget);
    repository.emitJob(jobId, Result.ok(job));
    await tester.pump();
    await tester.pump();
    return (viewModel, repository);
  }

  Future<void> close(WidgetTester tester, JobViewModel viewModel) async {
    await tester.pumpWidget(const SizedBox.shrink());
    viewModel.dispose();
  }

  testWidgets('a processing job shows its step, step N of M, percent, provider status and elapsed time', (tester) async {
    final (viewModel, repository) = await showJob(tester, fixtureJob('processing'));

    expect(find.text('Rendering the video'), findsOneWidget);
    expect(find.text('Step 3 of 4'), findsOneWidget);
    expect(find.text('60%'), findsOneWidget);
    expect(find.text('Provider: creating (checked 3 times)'), findsOneWidget);
    expect(find.text('Elapsed: 1 min 00 s'), findsOneWidget);
    final bar = tester.widget<LinearProgressIndicator>(find.byKey(const Key('job-progress-bar')));
    expect(bar.value, closeTo(0.6, 0.001));

    await tester.tap(find.byKey(const Key('cancel-job')));
    await tester.pump();
    expect(repository.cancelledJobIds, [jobId]);

    await close(tester, viewModel);
  });

  testWidgets('a failed job shows the error message and a retry button, and no cancel', (tester) async {
    final (viewModel, _) = await showJob(tester, fixtureJob('failed'));

    expect(find.textContaining('rejected the audio'), findsOneWidget);
    expect(find.text('Code: provider_rejected'), findsOneWidget);
    expect(find.byKey(const Key('retry-job')), findsOneWidget);
    expect(find.byKey(const Key('cancel-job')), findsNothing);

    await close(tester, viewModel);
  });

  testWidgets('a completed job plays its video', (tester) async {
    final (viewModel, _) = await showJob(tester, fixtureJob('completed'));
    await tester.pump();

    expect(find.text('player for https://media.test/video.mp4'), findsOneWidget);
    expect(find.byKey(const Key('cancel-job')), findsNothing);

    await close(tester, viewModel);
  });

  testWidgets('a job whose cancel is pending shows Cancelling… on a disabled button', (tester) async {
    final json = {...fixtureJson('processing'), 'cancelRequested': true};
    final (viewModel, _) = await showJob(tester, AvatarJob.fromJson(json));

    expect(find.text('Cancelling…'), findsOneWidget);
    final button = tester.widget<ButtonStyleButton>(find.byKey(const Key('cancel-job')));
    expect(button.onPressed, isNull);

    await close(tester, viewModel);
  });

  testWidgets('an unknown status is shown as unknown, not a crash', (tester) async {
    final json = {...fixtureJson('processing'), 'status': 'archived'};
    final (viewModel, _) = await showJob(tester, AvatarJob.fromJson(json));

    expect(find.text('unknown (archived)'), findsOneWidget);
    expect(find.byKey(const Key('cancel-job')), findsNothing);

    await close(tester, viewModel);
  });
}
