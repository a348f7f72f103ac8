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
            itemBuilder: (context, index) => _JobTile(job: viewModel.jobs[index], onTap: onOpenJob),
          );
        },
      ),
    );
  }
}

class _JobTile extends StatelessWidget {
  const _JobTile({required this.job, required this.onTap});

  final AvatarJob job;
  final void Function(String jobId) onTap;

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
      trailing: JobStatusChip(job: job),
      onTap: () => onTap(job.jobId),
    );
  }
}
