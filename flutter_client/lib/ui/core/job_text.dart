import '../../domain/models/avatar_job.dart';
import '../../domain/models/upload_rules.dart';
import '../../l10n/app_localizations.dart';

/// The job's status in the user's language; a status this app does not know shows its raw value.
String statusText(AppLocalizations l10n, AvatarJob job) => switch (job.status) {
      JobStatus.queued => l10n.statusQueued,
      JobStatus.processing => l10n.statusProcessing,
      JobStatus.completed => l10n.statusCompleted,
      JobStatus.failed => l10n.statusFailed,
      JobStatus.cancelled => l10n.statusCancelled,
      JobStatus.unknown => job.statusRaw.isEmpty ? l10n.statusUnknown : l10n.statusUnknownRaw(job.statusRaw),
    };

/// What the server's step (avatar.create → video.create → video.poll → video.store → done)
/// does, in the user's language; a step this app does not know shows its raw name.
String stepText(AppLocalizations l10n, JobProgress progress) => switch (progress.step) {
      JobStep.avatarCreate => l10n.stepAvatarCreate,
      JobStep.videoCreate => l10n.stepVideoCreate,
      JobStep.videoPoll => l10n.stepVideoPoll,
      JobStep.videoStore => l10n.stepVideoStore,
      JobStep.done => l10n.stepDone,
      JobStep.unknown => progress.stepRaw.isEmpty ? l10n.stepWorking : progress.stepRaw,
    };

/// `42 s`, `3 min 05 s`, `1 h 02 min` (in Korean `42초`, `3분 05초`, `1시간 02분`).
String elapsedText(AppLocalizations l10n, Duration duration) {
  final seconds = duration.inSeconds;
  if (seconds < 60) return l10n.elapsedSeconds(seconds);
  final minutes = duration.inMinutes;
  if (minutes < 60) return l10n.elapsedMinutes(minutes, _two(seconds % 60));
  return l10n.elapsedHours(duration.inHours, _two(minutes % 60));
}

/// What is wrong with a field of the Create form, in the user's language.
String uploadProblemText(AppLocalizations l10n, UploadProblem problem) => switch (problem) {
      UploadProblem.nameMissing => l10n.problemNameMissing,
      UploadProblem.nameTooLong => l10n.problemTooLong(UploadRules.maxNameLength),
      UploadProblem.bioMissing => l10n.problemBioMissing,
      UploadProblem.bioTooLong => l10n.problemTooLong(UploadRules.maxBioLength),
      UploadProblem.imageMissing => l10n.problemImageMissing,
      UploadProblem.imageType => l10n.problemImageType,
      UploadProblem.imageTooLarge => l10n.problemImageTooLarge(UploadRules.maxImageBytes ~/ (1024 * 1024)),
      UploadProblem.audioMissing => l10n.problemAudioMissing,
      UploadProblem.audioType => l10n.problemAudioType,
      UploadProblem.audioTooLarge => l10n.problemAudioTooLarge(UploadRules.maxAudioBytes ~/ (1024 * 1024)),
    };

String _two(int n) => n.toString().padLeft(2, '0');
