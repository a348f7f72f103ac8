import 'package:flutter/material.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../utils/format.dart';
import '../../core/job_status_chip.dart';
import '../view_models/history_view_model.dart';

/// The user's jobs, newest first; each opens its job page.
class HistoryScreen extends StatelessWidget {
  const HistoryScreen({super.key, required this.viewModel, required this.onOpenJob});

  final HistoryViewModel viewModel;
  final void Function(String jobId) onOpenJob;

  @override
  Widget build(BuildContext context) {
    return Scaffold(
      appBar: AppBar(title: const Text('My videos')),
      body: ListenableBuilder(
        listenable: viewModel,
        builder: (context, _) {
          if (viewModel.loading) return const Center(child: CircularProgressIndicator());
          final error = viewModel.error;
          if (error != null && viewModel.jobs.isEmpty) {
            final message = error is AppException ? error.message : '$error';
            return Center(child: Text('Could not load your videos: $message'));
          }
          if (viewModel.jobs.isEmpty) return const Center(child: Text('No videos yet.'));
          return ListView.separated(
            itemCount: viewModel.jobs.length,
            separatorBuilder: (context, _) => const Divider(height: 1),
            itemBuilder: (context, index) => _JobTile(
              job: viewModel.jobs[index],
              onTap: onOpenJob,
              onDelete: (job) => _confirmAndDelete(context, job),
            ),
          );
        },
      ),
    );
  }

  Future<void> _confirmAndDelete(BuildContext context, AvatarJob job) async {
    final confirmed = await showDialog<bool>(
      context: context,
      builder: (context) => AlertDialog(
        title: const Text('Delete this video?'),
        content: const Text(
          'The photo, the voice recording and the video are removed for good. '
          'A video still being made is cancelled.',
        ),
        actions: [
          TextButton(onPressed: () => Navigator.of(context).pop(false), child: const Text('Keep')),
          TextButton(
            key: const Key('confirm-delete'),
            onPressed: () => Navigator.of(context).pop(true),
            child: const Text('Delete'),
          ),
        ],
      ),
    );
    if (confirmed != true) return;
    final deleted = await viewModel.deleteJob(job.jobId);
    if (!context.mounted) return;
    final error = viewModel.deleteError;
    ScaffoldMessenger.of(context).showSnackBar(
      SnackBar(
        content: Text(deleted
            ? 'Video deleted.'
            : 'Could not delete: ${error is AppException ? error.message : '$error'}'),
      ),
    );
  }
}

class _JobTile extends StatelessWidget {
  const _JobTile({required this.job, required this.onTap, required this.onDelete});

  final AvatarJob job;
  final void Function(String jobId) onTap;
  final void Function(AvatarJob job) onDelete;

  @override
  Widget build(BuildContext context) {
    final created = job.createdAt;
    final details = [
      if (created != null) formatDateTime(created),
      if (job.status.isActive) '${job.progress.percent.round()}% · ${job.progress.stepLabel}',
      if (job.status == JobStatus.failed && job.error != null) job.error!.message,
    ].join(' · ');
    return ListTile(
      title: Text(job.input.instructorName.isEmpty ? job.jobId : job.input.instructorName),
      subtitle: details.isEmpty ? null : Text(details, maxLines: 2, overflow: TextOverflow.ellipsis),
      trailing: Row(
        mainAxisSize: MainAxisSize.min,
        children: [
          JobStatusChip(job: job),
          IconButton(
            key: Key('delete-${job.jobId}'),
            tooltip: 'Delete',
            icon: const Icon(Icons.delete_outline),
            onPressed: () => onDelete(job),
          ),
        ],
      ),
      onTap: () => onTap(job.jobId),
    );
  }
}
