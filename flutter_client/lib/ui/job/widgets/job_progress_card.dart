import 'package:flutter/material.dart';

import '../../../domain/models/avatar_job.dart';
import '../../../l10n/app_localizations.dart';
import '../../core/job_text.dart';

/// Step N of M, the percent bar, the worker's message, the provider's status and the elapsed
/// time, as the job document has them.
class JobProgressCard extends StatelessWidget {
  const JobProgressCard({super.key, required this.job, required this.elapsed});

  final AvatarJob job;
  final Duration? elapsed;

  @override
  Widget build(BuildContext context) {
    final progress = job.progress;
    final textTheme = Theme.of(context).textTheme;
    final l10n = AppLocalizations.of(context);
    final providerStatus = job.provider.providerStatus;
    final polls = job.provider.polls;
    final percent = progress.percent.round();
    return Card(
      child: Padding(
        padding: const EdgeInsets.all(16),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(stepText(l10n, progress), style: textTheme.titleMedium),
            if (progress.totalSteps > 0)
              Text(l10n.stepCount(progress.stepNumber, progress.totalSteps), style: textTheme.bodySmall),
            const SizedBox(height: 12),
            Row(
              children: [
                Expanded(
                  child: LinearProgressIndicator(
                    key: const Key('job-progress-bar'),
                    value: progress.percent / 100,
                  ),
                ),
                const SizedBox(width: 12),
                Text(l10n.percentLabel(percent)),
              ],
            ),
            if (progress.message.isNotEmpty) ...[
              const SizedBox(height: 8),
              Text(progress.message),
            ],
            const SizedBox(height: 8),
            if (providerStatus != null)
              Text(
                switch (polls) {
                  <= 0 => l10n.providerStatus(providerStatus),
                  1 => l10n.providerStatusCheckedOnce(providerStatus),
                  _ => l10n.providerStatusChecked(providerStatus, polls),
                },
                style: textTheme.bodySmall,
              ),
            if (elapsed != null) Text(l10n.elapsedLabel(elapsedText(l10n, elapsed!)), style: textTheme.bodySmall),
          ],
        ),
      ),
    );
  }
}
