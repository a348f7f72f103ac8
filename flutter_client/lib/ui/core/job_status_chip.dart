import 'package:flutter/material.dart';

import '../../domain/models/avatar_job.dart';
import '../../l10n/app_localizations.dart';
import 'job_text.dart';

/// The job's status as a coloured chip, in the user's language; an unknown status shows its
/// raw value.
class JobStatusChip extends StatelessWidget {
  const JobStatusChip({super.key, required this.job});

  final AvatarJob job;

  @override
  Widget build(BuildContext context) {
    final scheme = Theme.of(context).colorScheme;
    final (Color background, IconData icon) = switch (job.status) {
      JobStatus.queued => (scheme.surfaceContainerHighest, Icons.schedule),
      JobStatus.processing => (scheme.primaryContainer, Icons.autorenew),
      JobStatus.completed => (scheme.tertiaryContainer, Icons.check_circle),
      JobStatus.failed => (scheme.errorContainer, Icons.error),
      JobStatus.cancelled => (scheme.surfaceContainerHighest, Icons.cancel),
      JobStatus.unknown => (scheme.surfaceContainerHighest, Icons.help),
    };
    return Chip(
      avatar: Icon(icon, size: 18),
      label: Text(statusText(AppLocalizations.of(context), job)),
      backgroundColor: background,
    );
  }
}
