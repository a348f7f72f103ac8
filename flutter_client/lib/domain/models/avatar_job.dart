// The job document `avatarJobs/{jobId}` as the backend writes it (DESIGN.md, and the `Job`
// interface in server/src/ports/jobStore.ts). The app only reads it.
//
// Parsing never throws: documents written by an older or newer backend may lack fields or
// carry values this app does not know, and the app must show them rather than crash. Missing
// fields get neutral defaults; unknown statuses and steps become JobStatus.unknown and
// JobStep.unknown with the raw value kept for display.

/// Where a job stands. [unknown] stands for any value this app version does not know.
enum JobStatus {
  queued('queued'),
  processing('processing'),
  completed('completed'),
  failed('failed'),
  cancelled('cancelled'),
  unknown('unknown');

  const JobStatus(this.wireName);

  /// The value in the document.
  final String wireName;

  static JobStatus parse(Object? raw) =>
      values.firstWhere((s) => s != unknown && s.wireName == raw, orElse: () => unknown);

  /// Completed, failed and cancelled jobs never change again.
  bool get isTerminal => this == completed || this == failed || this == cancelled;

  /// Queued and processing jobs are still moving (and can be cancelled).
  bool get isActive => this == queued || this == processing;
}

/// The pipeline steps, in order: avatar.create → video.create → video.poll → video.store → done.
enum JobStep {
  avatarCreate('avatar.create'),
  videoCreate('video.create'),
  videoPoll('video.poll'),
  videoStore('video.store'),
  done('done'),
  unknown('');

  const JobStep(this.wireName);

  /// The value of `progress.currentStep` in the document.
  final String wireName;

  static JobStep parse(Object? raw) =>
      values.firstWhere((s) => s != unknown && s.wireName == raw, orElse: () => unknown);
}

/// `progress`: how far the job is, as the worker last wrote it.
class JobProgress {
  const JobProgress({
    this.step = JobStep.unknown,
    this.stepRaw = '',
    this.stepNumber = 0,
    this.totalSteps = 0,
    this.percent = 0,
    this.message = '',
  });

  factory JobProgress.fromJson(Map<String, Object?> json) {
    final raw = _string(json['currentStep']);
    return JobProgress(
      step: JobStep.parse(raw),
      stepRaw: raw,
      stepNumber: _int(json['stepNumber']),
      totalSteps: _int(json['totalSteps']),
      percent: _double(json['percent'])?.clamp(0, 100).toDouble() ?? 0,
      message: _string(json['message']),
    );
  }

  final JobStep step;

  /// `progress.currentStep` as written, for steps this app does not know.
  final String stepRaw;
  final int stepNumber;
  final int totalSteps;

  /// 0 to 100.
  final double percent;
  final String message;

}

/// `input`: what the user uploaded, as stored by the backend.
class JobInput {
  const JobInput({
    this.imagePath = '',
    this.audioPath = '',
    this.imageType = '',
    this.audioType = '',
    this.instructorName = '',
    this.instructorBio = '',
    this.imageBytes,
    this.audioBytes,
    this.audioDurationSec,
  });

  factory JobInput.fromJson(Map<String, Object?> json) => JobInput(
        imagePath: _string(json['imagePath']),
        audioPath: _string(json['audioPath']),
        imageType: _string(json['imageType']),
        audioType: _string(json['audioType']),
        instructorName: _string(json['instructorName']),
        instructorBio: _string(json['instructorBio']),
        imageBytes: _intOrNull(json['imageBytes']),
        audioBytes: _intOrNull(json['audioBytes']),
        audioDurationSec: _double(json['audioDurationSec']),
      );

  final String imagePath;
  final String audioPath;
  final String imageType;
  final String audioType;
  final String instructorName;
  final String instructorBio;
  final int? imageBytes;
  final int? audioBytes;
  final double? audioDurationSec;
}

/// `provider`: the AI provider's ids and last reported status.
class JobProviderInfo {
  const JobProviderInfo({
    this.name = '',
    this.avatarId,
    this.videoId,
    this.providerStatus,
    this.polls = 0,
  });

  factory JobProviderInfo.fromJson(Map<String, Object?> json) => JobProviderInfo(
        name: _string(json['name']),
        avatarId: _stringOrNull(json['avatarId']),
        videoId: _stringOrNull(json['videoId']),
        providerStatus: _stringOrNull(json['providerStatus']),
        polls: _int(json['polls']),
      );

  final String name;
  final String? avatarId;
  final String? videoId;

  /// The provider's own word for the render (VisionStory: queued, creating, created, failed).
  final String? providerStatus;

  /// How many times the worker has asked the provider so far.
  final int polls;
}

/// `result`: present once the job is completed.
class JobResult {
  const JobResult({required this.videoPath, required this.videoUrl, this.durationSec});

  final String videoPath;

  /// A path relative to the backend (`/jobs/<id>/video`) or, from some backends, a full URL.
  final String videoUrl;
  final double? durationSec;

  static JobResult? fromJson(Object? raw) {
    final json = _mapOrNull(raw);
    if (json == null) return null;
    return JobResult(
      videoPath: _string(json['videoPath']),
      videoUrl: _string(json['videoUrl']),
      durationSec: _double(json['durationSec']),
    );
  }
}

/// `error`: present once the job has failed.
class JobError {
  const JobError({required this.code, required this.message});

  final String code;
  final String message;

  static JobError? fromJson(Object? raw) {
    final json = _mapOrNull(raw);
    if (json == null) return null;
    return JobError(code: _string(json['code'], 'unknown'), message: _string(json['message']));
  }
}

/// One avatar video job, read from `avatarJobs/{jobId}` or from the backend's JSON API.
class AvatarJob {
  const AvatarJob({
    required this.jobId,
    this.ownerUid = '',
    this.status = JobStatus.unknown,
    this.statusRaw = '',
    this.progress = const JobProgress(),
    this.input = const JobInput(),
    this.provider = const JobProviderInfo(),
    this.result,
    this.error,
    this.cancelRequested = false,
    this.stepSeq = 0,
    this.leaseUntil,
    this.attempts = 0,
    this.nextRunAt,
    this.createdAt,
    this.updatedAt,
    this.completedAt,
  });

  /// Reads a document. Timestamps may be [DateTime]s (the Firestore layer converts its
  /// Timestamps to them), ISO-8601 strings (the JSON API), epoch milliseconds, or absent.
  /// [id] (the document id) stands in when the document lacks `jobId`.
  factory AvatarJob.fromJson(Map<String, Object?> json, {String? id}) {
    final statusRaw = _string(json['status']);
    return AvatarJob(
      jobId: _string(json['jobId'], id ?? ''),
      ownerUid: _string(json['ownerUid']),
      status: JobStatus.parse(statusRaw),
      statusRaw: statusRaw,
      progress: JobProgress.fromJson(_map(json['progress'])),
      input: JobInput.fromJson(_map(json['input'])),
      provider: JobProviderInfo.fromJson(_map(json['provider'])),
      result: JobResult.fromJson(json['result']),
      error: JobError.fromJson(json['error']),
      cancelRequested: json['cancelRequested'] == true,
      stepSeq: _int(json['stepSeq']),
      leaseUntil: parseTimestamp(json['leaseUntil']),
      attempts: _int(json['attempts']),
      nextRunAt: parseTimestamp(json['nextRunAt']),
      createdAt: parseTimestamp(json['createdAt']),
      updatedAt: parseTimestamp(json['updatedAt']),
      completedAt: parseTimestamp(json['completedAt']),
    );
  }

  final String jobId;
  final String ownerUid;
  final JobStatus status;

  /// `status` as written, shown when [status] is [JobStatus.unknown].
  final String statusRaw;
  final JobProgress progress;
  final JobInput input;
  final JobProviderInfo provider;
  final JobResult? result;
  final JobError? error;
  final bool cancelRequested;
  final int stepSeq;
  final DateTime? leaseUntil;
  final int attempts;
  final DateTime? nextRunAt;
  final DateTime? createdAt;
  final DateTime? updatedAt;
  final DateTime? completedAt;

  /// The owner may still cancel: the job is moving and no cancel is pending.
  bool get canCancel => status.isActive && !cancelRequested;

  /// Time since the job was created: up to [now] while it runs, up to its end once finished.
  Duration? elapsed(DateTime now) {
    final start = createdAt;
    if (start == null) return null;
    final end = status.isTerminal ? (completedAt ?? updatedAt ?? now) : now;
    final span = end.difference(start);
    return span.isNegative ? Duration.zero : span;
  }
}

/// Reads a timestamp written as a [DateTime], an ISO-8601 string, epoch milliseconds, or a
/// serialized Firestore Timestamp (`{seconds, nanoseconds}` or the Admin SDK's
/// `{_seconds, _nanoseconds}`). Anything else is null. The result is in UTC.
DateTime? parseTimestamp(Object? raw) {
  switch (raw) {
    case DateTime value:
      return value.toUtc();
    case String value:
      return DateTime.tryParse(value)?.toUtc();
    case int millis:
      return DateTime.fromMillisecondsSinceEpoch(millis, isUtc: true);
    case {'seconds': final int s, 'nanoseconds': final int ns}:
    case {'_seconds': final int s, '_nanoseconds': final int ns}:
      return DateTime.fromMicrosecondsSinceEpoch(s * 1000000 + ns ~/ 1000, isUtc: true);
    default:
      return null;
  }
}

Map<String, Object?> _map(Object? raw) => _mapOrNull(raw) ?? const {};

Map<String, Object?>? _mapOrNull(Object? raw) =>
    raw is Map ? {for (final e in raw.entries) '${e.key}': e.value} : null;

String _string(Object? raw, [String fallback = '']) => raw is String ? raw : fallback;

String? _stringOrNull(Object? raw) => raw is String ? raw : null;

int _int(Object? raw) => _intOrNull(raw) ?? 0;

int? _intOrNull(Object? raw) => raw is num && raw.isFinite ? raw.toInt() : null;

double? _double(Object? raw) => raw is num && raw.isFinite ? raw.toDouble() : null;
