import 'dart:async';

import 'package:flutter/foundation.dart';

import '../../../data/repositories/job/job_repository.dart';
import '../../../domain/models/app_exception.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/video_source.dart';
import '../../../utils/command.dart';
import '../../../utils/result.dart';

/// What the job page shows.
sealed class JobViewState {
  const JobViewState();
}

/// Waiting for the first snapshot.
final class JobLoading extends JobViewState {
  const JobLoading();
}

/// No such job, or not this user's (the page shows both the same way).
final class JobNotFound extends JobViewState {
  const JobNotFound();
}

/// The live view broke (network, rules); [error] says why.
final class JobLoadFailed extends JobViewState {
  const JobLoadFailed(this.error);

  final Exception error;
}

/// The latest snapshot of the job.
final class JobLoaded extends JobViewState {
  const JobLoaded(this.job);

  final AvatarJob job;
}

/// The job page: follows one job live, offers cancel while it runs, retry when it failed or was
/// cancelled, and
/// finds the video once it is completed.
class JobViewModel extends ChangeNotifier {
  JobViewModel({
    required this.jobId,
    required JobRepository repository,
    DateTime Function()? now,
    Duration tick = const Duration(seconds: 1),
  })  : _repository = repository,
        _now = now ?? DateTime.now,
        _tick = tick {
    cancel = Command0<void>(() => _repository.cancelJob(jobId));
    retry = Command0<CreatedJob>(_retry);
    loadVideo = Command0<VideoSource>(_loadVideo);
    _subscription = _repository.watchJob(jobId).listen(_onSnapshot);
  }

  final String jobId;
  final JobRepository _repository;
  final DateTime Function() _now;
  final Duration _tick;
  late final StreamSubscription<Result<AvatarJob?>> _subscription;
  Timer? _ticker;

  /// Asks the backend to stop the job; the document then shows `cancelRequested`.
  late final Command0<void> cancel;

  /// Starts a failed or cancelled job again as a new job (`POST /jobs/:id/retry`).
  late final Command0<CreatedJob> retry;

  /// Finds where to play the finished video; runs by itself when the job completes.
  late final Command0<VideoSource> loadVideo;

  JobViewState _state = const JobLoading();
  JobViewState get state => _state;

  /// The latest snapshot, if any.
  AvatarJob? get job => switch (_state) {
        JobLoaded(:final job) => job,
        _ => null,
      };

  /// How long the job has been running (or ran), for the elapsed-time line.
  Duration? get elapsed => job?.elapsed(_now().toUtc());

  /// The video, once [loadVideo] has found it.
  VideoSource? get video => loadVideo.result?.valueOrNull;

  /// Retry is offered for failed and cancelled jobs.
  bool get canRetry => job?.status == JobStatus.failed || job?.status == JobStatus.cancelled;

  void _onSnapshot(Result<AvatarJob?> result) {
    _state = switch (result) {
      Ok<AvatarJob?>(value: final job?) => JobLoaded(job),
      Ok<AvatarJob?> _ => const JobNotFound(),
      Err<AvatarJob?>(error: AppException(code: AppException.notFound)) => const JobNotFound(),
      Err<AvatarJob?>(:final error) => JobLoadFailed(error),
    };
    final current = job;
    // The elapsed time only moves while the job runs; a finished job needs no timer.
    if (current != null && current.status.isActive) {
      _ticker ??= Timer.periodic(_tick, (_) => notifyListeners());
    } else {
      _ticker?.cancel();
      _ticker = null;
    }
    if (current?.status == JobStatus.completed && loadVideo.result == null && !loadVideo.running) {
      unawaited(loadVideo.execute());
    }
    notifyListeners();
  }

  Future<Result<CreatedJob>> _retry() async {
    final result = await _repository.retryJob(jobId);
    // 410: the backend no longer keeps the files and the app has none at hand either; the page
    // then opens the form prefilled, for the person to pick the photo and audio again.
    if (result case Err<CreatedJob>(error: AppException(statusCode: 410))) {
      return const Result.error(
        AppException(AppException.retryUnavailable, 'Pick the photo and audio again to retry'),
      );
    }
    return result;
  }

  Future<Result<VideoSource>> _loadVideo() async {
    final current = job;
    if (current == null) {
      return const Result.error(AppException(AppException.notFound, 'The job is not loaded'));
    }
    return _repository.videoSource(current);
  }

  @override
  void dispose() {
    _ticker?.cancel();
    _subscription.cancel();
    cancel.dispose();
    retry.dispose();
    loadVideo.dispose();
    super.dispose();
  }
}
