import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:avatar_jobs/domain/models/created_job.dart';
import 'package:avatar_jobs/l10n/app_localizations.dart';
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
  Future<(JobViewModel, FakeJobRepository)> showJob(
    WidgetTester tester,
    AvatarJob job, {
    Locale locale = const Locale('en'),
    void Function(String jobId)? onOpenJob,
  }) async {
    final repository = FakeJobRepository();
    final viewModel = JobViewModel(jobId: jobId, repository: repository, now: () => now);
    await tester.pumpWidget(MaterialApp(
      locale: locale,
      localizationsDelegates: AppLocalizations.localizationsDelegates,
      supportedLocales: AppLocalizations.supportedLocales,
      home: JobScreen(
        viewModel: viewModel,
        onOpenJob: onOpenJob ?? (_) {},
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

  testWidgets('in Korean, the step, step N of M, status, provider status and elapsed time are in Korean', (tester) async {
    final (viewModel, _) = await showJob(tester, fixtureJob('processing'), locale: const Locale('ko'));

    expect(find.text('영상을 렌더링하는 중'), findsOneWidget);
    expect(find.text('4단계 중 3단계'), findsOneWidget);
    expect(find.text('처리 중'), findsOneWidget);
    expect(find.text('제공업체 상태: creating (3회 확인)'), findsOneWidget);
    expect(find.text('경과 시간: 1분 00초'), findsOneWidget);
    expect(find.text('Rendering the video'), findsNothing);
    await close(tester, viewModel);
  });

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

    expect(find.text('Unknown (archived)'), findsOneWidget);
    expect(find.byKey(const Key('cancel-job')), findsNothing);

    await close(tester, viewModel);
  });

  testWidgets('a cancelled job offers retry; tapping it posts the retry and opens the new job', (tester) async {
    final opened = <String>[];
    final (viewModel, repository) = await showJob(tester, fixtureJob('cancelled'), onOpenJob: opened.add);
    repository.retryResult = const Result.ok(CreatedJob(jobId: 'job_again'));

    expect(find.text('This job was cancelled.'), findsOneWidget);
    await tester.tap(find.byKey(const Key('retry-job')));
    await tester.pump();
    await tester.pump();

    expect(repository.retriedJobIds, [jobId]);
    expect(opened, ['job_again']);
    await close(tester, viewModel);
  });

  testWidgets('in Korean the page and the failure reason are Korean, the error code stays', (tester) async {
    final failed = fixtureJob('failed');
    final (viewModel, _) = await showJob(tester, failed, locale: const Locale('ko'));

    expect(find.text('다시 시도'), findsOneWidget);
    expect(find.text('코드: ${failed.error!.code}'), findsOneWidget);
    expect(find.textContaining(failed.error!.message), findsNothing); // the English message is not shown
    await close(tester, viewModel);
  });

  testWidgets('a job that cannot be read shows "not found", not an error', (tester) async {
    final repository = FakeJobRepository();
    final viewModel = JobViewModel(jobId: jobId, repository: repository, now: () => now);
    await tester.pumpWidget(MaterialApp(
      localizationsDelegates: AppLocalizations.localizationsDelegates,
      supportedLocales: AppLocalizations.supportedLocales,
      home: JobScreen(viewModel: viewModel, onOpenJob: (_) {}, onStartAgain: (_) {}),
    ));
    repository.emitJob(jobId, const Result.error(AppException(AppException.notFound, 'permission-denied')));
    await tester.pump();

    expect(find.text('This job does not exist or is not yours.'), findsOneWidget);
    await close(tester, viewModel);
  });
}
