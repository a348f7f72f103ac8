import 'package:flutter/material.dart';

import '../../../domain/models/avatar_job.dart';
import '../../../utils/format.dart';

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
    final percent = progress.percent.round();
    return Card(
      child: Padding(
        padding: const EdgeInsets.all(16),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(progress.stepLabel, style: textTheme.titleMedium),
            if (progress.totalSteps > 0)
              Text('Step ${progress.stepNumber} of ${progress.totalSteps}', style: textTheme.bodySmall),
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
                Text('$percent%'),
              ],
            ),
            if (progress.message.isNotEmpty) ...[
              const SizedBox(height: 8),
              Text(progress.message),
            ],
            const SizedBox(height: 8),
            if (job.provider.providerStatus != null)
              Text(
                'Provider: ${job.provider.providerStatus}'
                '${job.provider.polls > 0 ? ' (checked ${job.provider.polls} times)' : ''}',
                style: textTheme.bodySmall,
              ),
            if (elapsed != null) Text('Elapsed: ${formatElapsed(elapsed!)}', style: textTheme.bodySmall),
          ],
        ),
      ),
    );
  }
}
