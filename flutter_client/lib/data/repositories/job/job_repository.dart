import '../../../domain/models/avatar_job.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/new_job_request.dart';
import '../../../domain/models/video_source.dart';
import '../../../utils/result.dart';

/// Called as an upload goes out: bytes sent so far, and the total.
typedef UploadProgressCallback = void Function(int sentBytes, int totalBytes);

/// The user's avatar jobs: create, watch live, cancel, retry, and find the finished video.
abstract interface class JobRepository {
  /// Uploads the files and creates the job; answers as soon as the backend has queued it.
  Future<Result<CreatedJob>> createJob(NewJobRequest request, {UploadProgressCallback? onProgress});

  /// The job document, then every change to it. `Ok(null)`: no such document (yet).
  /// An `Err` is followed by nothing more.
  Stream<Result<AvatarJob?>> watchJob(String jobId);

  /// The signed-in user's jobs, newest first, live.
  Stream<Result<List<AvatarJob>>> watchMyJobs({int limit = 50});

  Future<Result<void>> cancelJob(String jobId);

  /// Starts a failed or cancelled job again as a new job, from the photo and recording the
  /// backend kept (`POST /jobs/:id/retry`). When the backend no longer has them (410) and this
  /// run of the app still does, they are uploaded again; otherwise the error says so.
  Future<Result<CreatedJob>> retryJob(String jobId);

  /// Deletes the job, its uploads and its video for good (a running job is cancelled first).
  Future<Result<void>> deleteJob(String jobId);

  /// Where to play the video of a completed job from.
  Future<Result<VideoSource>> videoSource(AvatarJob job);

  /// The request that created [jobId] in this run of the app, if its files are still at hand
  /// (for a retry); null otherwise.
  NewJobRequest? requestFor(String jobId);
}
