import 'package:flutter/material.dart';

import '../../../domain/models/avatar_job.dart';
import '../../../l10n/app_localizations.dart';
import '../../../utils/format.dart';
import '../../core/error_text.dart';
import '../../core/job_status_chip.dart';
import '../../core/job_text.dart';
import '../view_models/history_view_model.dart';

/// The user's jobs, newest first; each opens its job page.
class HistoryScreen extends StatelessWidget {
  const HistoryScreen({super.key, required this.viewModel, required this.onOpenJob});

  final HistoryViewModel viewModel;
  final void Function(String jobId) onOpenJob;

  @override
  Widget build(BuildContext context) {
    final l10n = AppLocalizations.of(context);
    return Scaffold(
      appBar: AppBar(title: Text(l10n.myVideosTitle)),
      body: ListenableBuilder(
        listenable: viewModel,
        builder: (context, _) {
          if (viewModel.loading) return const Center(child: CircularProgressIndicator());
          final error = viewModel.error;
          if (error != null && viewModel.jobs.isEmpty) {
            return Center(child: Text(l10n.historyLoadFailed(errorMessageOf(l10n, error))));
          }
          if (viewModel.jobs.isEmpty) return Center(child: Text(l10n.historyEmpty));
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
    final l10n = AppLocalizations.of(context);
    final confirmed = await showDialog<bool>(
      context: context,
      builder: (context) => AlertDialog(
        title: Text(l10n.deleteQuestion),
        content: Text(l10n.deleteExplanation),
        actions: [
          TextButton(onPressed: () => Navigator.of(context).pop(false), child: Text(l10n.keepButton)),
          TextButton(
            key: const Key('confirm-delete'),
            onPressed: () => Navigator.of(context).pop(true),
            child: Text(l10n.deleteButton),
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
        content: Text(deleted ? l10n.videoDeleted : l10n.couldNotDelete(errorMessageOf(l10n, error ?? ''))),
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
    final l10n = AppLocalizations.of(context);
    final created = job.createdAt;
    final details = [
      if (created != null) formatDateTime(created),
      if (job.status.isActive) ...[l10n.percentLabel(job.progress.percent.round()), stepText(l10n, job.progress)],
      if (job.status == JobStatus.failed && job.error != null) errorText(l10n, job.error!.code, job.error!.message),
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
            tooltip: l10n.deleteButton,
            icon: const Icon(Icons.delete_outline),
            onPressed: () => onDelete(job),
          ),
        ],
      ),
      onTap: () => onTap(job.jobId),
    );
  }
}
