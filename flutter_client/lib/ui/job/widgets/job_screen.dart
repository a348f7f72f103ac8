import 'package:flutter/material.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/video_source.dart';
import '../../../l10n/app_localizations.dart';
import '../../../utils/result.dart';
import '../../core/error_text.dart';
import '../../core/job_status_chip.dart';
import '../view_models/job_view_model.dart';
import 'job_progress_card.dart';
import 'job_video_player.dart';

/// Builds the player for a finished video; tests swap in a stand-in, since the real player
/// needs the platform.
typedef VideoPlayerBuilder = Widget Function(BuildContext context, VideoSource source);

/// One job, live: progress while it runs, the video once completed, the error and a retry
/// when it failed, a retry when it was cancelled, a cancel button while it can be cancelled.
class JobScreen extends StatefulWidget {
  const JobScreen({
    super.key,
    required this.viewModel,
    required this.onOpenJob,
    required this.onStartAgain,
    this.videoPlayerBuilder = _defaultPlayer,
  });

  final JobViewModel viewModel;

  /// Opens another job (the one a retry created).
  final void Function(String jobId) onOpenJob;

  /// Opens the Create form prefilled from [AvatarJob.input], when a retry needs the files again.
  final void Function(AvatarJob job) onStartAgain;
  final VideoPlayerBuilder videoPlayerBuilder;

  static Widget _defaultPlayer(BuildContext context, VideoSource source) => JobVideoPlayer(source: source);

  @override
  State<JobScreen> createState() => _JobScreenState();
}

class _JobScreenState extends State<JobScreen> {
  @override
  void initState() {
    super.initState();
    widget.viewModel.cancel.addListener(_onCancelResult);
    widget.viewModel.retry.addListener(_onRetryResult);
  }

  @override
  void dispose() {
    widget.viewModel.cancel.removeListener(_onCancelResult);
    widget.viewModel.retry.removeListener(_onRetryResult);
    super.dispose();
  }

  void _onCancelResult() {
    final result = widget.viewModel.cancel.result;
    if (result is Err<void>) {
      widget.viewModel.cancel.clearResult();
      final l10n = AppLocalizations.of(context);
      _showSnack(l10n.couldNotCancel(errorMessageOf(l10n, result.error)));
    }
  }

  void _onRetryResult() {
    final result = widget.viewModel.retry.result;
    if (result == null) return;
    widget.viewModel.retry.clearResult();
    switch (result) {
      case Ok<CreatedJob>(:final value):
        widget.onOpenJob(value.jobId);
      case Err<CreatedJob>(error: AppException(code: AppException.retryUnavailable)):
        final job = widget.viewModel.job;
        if (job != null) widget.onStartAgain(job);
      case Err<CreatedJob>(:final error):
        final l10n = AppLocalizations.of(context);
        _showSnack(l10n.couldNotRetry(errorMessageOf(l10n, error)));
    }
  }

  void _showSnack(String text) {
    if (!mounted) return;
    ScaffoldMessenger.of(context).showSnackBar(SnackBar(content: Text(text)));
  }

  @override
  Widget build(BuildContext context) {
    final l10n = AppLocalizations.of(context);
    return Scaffold(
      appBar: AppBar(title: Text(l10n.jobPageTitle)),
      body: ListenableBuilder(
        listenable: widget.viewModel,
        builder: (context, _) => switch (widget.viewModel.state) {
          JobLoading _ => const Center(child: CircularProgressIndicator()),
          JobNotFound _ => _Message(icon: Icons.search_off, text: l10n.jobNotFound),
          JobLoadFailed(:final error) => _Message(icon: Icons.cloud_off, text: l10n.jobLoadFailed(errorMessageOf(l10n, error))),
          JobLoaded(:final job) => _JobDetails(
              job: job,
              viewModel: widget.viewModel,
              videoPlayerBuilder: widget.videoPlayerBuilder,
            ),
        },
      ),
    );
  }
}

class _JobDetails extends StatelessWidget {
  const _JobDetails({required this.job, required this.viewModel, required this.videoPlayerBuilder});

  final AvatarJob job;
  final JobViewModel viewModel;
  final VideoPlayerBuilder videoPlayerBuilder;

  @override
  Widget build(BuildContext context) {
    final textTheme = Theme.of(context).textTheme;
    final l10n = AppLocalizations.of(context);
    return ListView(
      padding: const EdgeInsets.all(16),
      children: [
        Row(
          children: [
            Expanded(
              child: Text(
                job.input.instructorName.isEmpty ? l10n.untitled : job.input.instructorName,
                style: textTheme.headlineSmall,
              ),
            ),
            JobStatusChip(job: job),
          ],
        ),
        const SizedBox(height: 12),
        if (job.status == JobStatus.completed) _video(context) else JobProgressCard(job: job, elapsed: viewModel.elapsed),
        if (job.status == JobStatus.failed) ...[
          const SizedBox(height: 12),
          _FailureCard(job: job, viewModel: viewModel),
        ],
        if (job.status == JobStatus.cancelled) ...[
          const SizedBox(height: 12),
          Text(l10n.jobCancelledNote),
          const SizedBox(height: 8),
          Align(alignment: AlignmentDirectional.centerStart, child: _RetryButton(viewModel: viewModel)),
        ],
        if (job.status.isActive) ...[
          const SizedBox(height: 12),
          ListenableBuilder(
            listenable: viewModel.cancel,
            builder: (context, _) => OutlinedButton.icon(
              key: const Key('cancel-job'),
              icon: const Icon(Icons.stop_circle_outlined),
              label: Text(job.cancelRequested ? l10n.cancellingButton : l10n.cancelButton),
              onPressed: job.canCancel && !viewModel.cancel.running ? viewModel.cancel.execute : null,
            ),
          ),
        ],
      ],
    );
  }

  Widget _video(BuildContext context) {
    return ListenableBuilder(
      listenable: viewModel.loadVideo,
      builder: (context, _) {
        final command = viewModel.loadVideo;
        final source = viewModel.video;
        if (source != null) return videoPlayerBuilder(context, source);
        if (command.failed) {
          final error = (command.result! as Err<VideoSource>).error;
          final l10n = AppLocalizations.of(context);
          return Column(
            children: [
              Text(l10n.couldNotOpenVideo(errorMessageOf(l10n, error))),
              TextButton(onPressed: command.execute, child: Text(l10n.tryAgainButton)),
            ],
          );
        }
        return const Center(child: CircularProgressIndicator());
      },
    );
  }
}

class _FailureCard extends StatelessWidget {
  const _FailureCard({required this.job, required this.viewModel});

  final AvatarJob job;
  final JobViewModel viewModel;

  @override
  Widget build(BuildContext context) {
    final scheme = Theme.of(context).colorScheme;
    final l10n = AppLocalizations.of(context);
    final error = job.error;
    return Card(
      color: scheme.errorContainer,
      child: Padding(
        padding: const EdgeInsets.all(16),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(error == null ? l10n.jobFailedNote : errorText(l10n, error.code, error.message.isNotEmpty ? error.message : l10n.jobFailedNote)),
            if (error != null) Text(l10n.errorCodeLabel(error.code), style: Theme.of(context).textTheme.bodySmall),
            const SizedBox(height: 8),
            _RetryButton(viewModel: viewModel),
          ],
        ),
      ),
    );
  }
}

/// Starts the job again (`POST /jobs/:id/retry`); shown for failed and cancelled jobs.
class _RetryButton extends StatelessWidget {
  const _RetryButton({required this.viewModel});

  final JobViewModel viewModel;

  @override
  Widget build(BuildContext context) => ListenableBuilder(
        listenable: viewModel.retry,
        builder: (context, _) => FilledButton.icon(
          key: const Key('retry-job'),
          icon: const Icon(Icons.refresh),
          label: Text(AppLocalizations.of(context).retryButton),
          onPressed: viewModel.canRetry && !viewModel.retry.running ? viewModel.retry.execute : null,
        ),
      );
}

class _Message extends StatelessWidget {
  const _Message({required this.icon, required this.text});

  final IconData icon;
  final String text;

  @override
  Widget build(BuildContext context) => Center(
        child: Padding(
          padding: const EdgeInsets.all(24),
          child: Column(
            mainAxisSize: MainAxisSize.min,
            children: [Icon(icon, size: 48), const SizedBox(height: 12), Text(text, textAlign: TextAlign.center)],
          ),
        ),
      );
}
