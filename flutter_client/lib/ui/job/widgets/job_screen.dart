import 'package:flutter/material.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/video_source.dart';
import '../../../utils/result.dart';
import '../../core/job_status_chip.dart';
import '../view_models/job_view_model.dart';
import 'job_progress_card.dart';
import 'job_video_player.dart';

/// Builds the player for a finished video; tests swap in a stand-in, since the real player
/// needs the platform.
typedef VideoPlayerBuilder = Widget Function(BuildContext context, VideoSource source);

/// One job, live: progress while it runs, the video once completed, the error and a retry
/// when it failed, a cancel button while it can be cancelled.
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
      _showSnack('Could not cancel: ${_messageOf(result.error)}');
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
        _showSnack('Could not retry: ${_messageOf(error)}');
    }
  }

  void _showSnack(String text) {
    if (!mounted) return;
    ScaffoldMessenger.of(context).showSnackBar(SnackBar(content: Text(text)));
  }

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('Avatar video')),
      body: ListenableBuilder(
        listenable: widget.viewModel,
        builder: (context, _) => switch (widget.viewModel.state) {
          JobLoading _ => const Center(child: CircularProgressIndicator()),
          JobNotFound _ => const _Message(icon: Icons.search_off, text: 'This job does not exist or is not yours.'),
          JobLoadFailed(:final error) => _Message(icon: Icons.cloud_off, text: 'Could not load the job: ${_messageOf(error)}'),
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
    return ListView(
      padding: const EdgeInsets.all(16),
      children: [
        Row(
          children: [
            Expanded(
              child: Text(
                job.input.instructorName.isEmpty ? 'Untitled' : job.input.instructorName,
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
          const Text('This job was cancelled.'),
        ],
        if (job.status.isActive) ...[
          const SizedBox(height: 12),
          ListenableBuilder(
            listenable: viewModel.cancel,
            builder: (context, _) => OutlinedButton.icon(
              key: const Key('cancel-job'),
              icon: const Icon(Icons.stop_circle_outlined),
              label: Text(job.cancelRequested ? 'Cancelling…' : 'Cancel'),
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
          return Column(
            children: [
              Text('Could not open the video: ${_messageOf(error)}'),
              TextButton(onPressed: command.execute, child: const Text('Try again')),
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
    final error = job.error;
    return Card(
      color: scheme.errorContainer,
      child: Padding(
        padding: const EdgeInsets.all(16),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(error?.message.isNotEmpty == true ? error!.message : 'The job failed.'),
            if (error != null) Text('Code: ${error.code}', style: Theme.of(context).textTheme.bodySmall),
            const SizedBox(height: 8),
            ListenableBuilder(
              listenable: viewModel.retry,
              builder: (context, _) => FilledButton.icon(
                key: const Key('retry-job'),
                icon: const Icon(Icons.refresh),
                label: const Text('Retry'),
                onPressed: viewModel.canRetry && !viewModel.retry.running ? viewModel.retry.execute : null,
              ),
            ),
          ],
        ),
      ),
    );
  }
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

String _messageOf(Exception error) => error is AppException ? error.message : '$error';
