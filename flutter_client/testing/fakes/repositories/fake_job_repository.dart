import 'dart:async';

import 'package:avatar_jobs/data/repositories/job/job_repository.dart';
import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:avatar_jobs/domain/models/created_job.dart';
import 'package:avatar_jobs/domain/models/new_job_request.dart';
import 'package:avatar_jobs/domain/models/video_source.dart';
import 'package:avatar_jobs/utils/result.dart';

/// A [JobRepository] driven by the test: it pushes snapshots with [emitJob] and [emitMyJobs],
/// sets the answers of the calls, and reads what was asked of it.
class FakeJobRepository implements JobRepository {
  final Map<String, StreamController<Result<AvatarJob?>>> _jobStreams = {};
  final StreamController<Result<List<AvatarJob>>> _myJobs = StreamController.broadcast();

  /// What [createJob] answers; progress is reported through [uploadSteps] first.
  Result<CreatedJob> createResult = const Result.ok(CreatedJob(jobId: 'job_new'));
  List<(int, int)> uploadSteps = const [(0, 100), (50, 100), (100, 100)];
  Result<void> cancelResult = const Result.ok(null);
  Result<CreatedJob> retryResult = const Result.ok(CreatedJob(jobId: 'job_retried'));
  Result<VideoSource> videoResult = Result.ok(VideoSource(url: Uri.parse('https://media.test/video.mp4')));

  /// Requests kept for retry, by job id.
  final Map<String, NewJobRequest> retainedRequests = {};

  final List<NewJobRequest> createdRequests = [];
  final List<String> cancelledJobIds = [];
  final List<String> retriedJobIds = [];
  final List<String> videoRequests = [];

  void emitJob(String jobId, Result<AvatarJob?> snapshot) => _streamFor(jobId).add(snapshot);

  void emitMyJobs(Result<List<AvatarJob>> jobs) => _myJobs.add(jobs);

  StreamController<Result<AvatarJob?>> _streamFor(String jobId) =>
      _jobStreams.putIfAbsent(jobId, () => StreamController<Result<AvatarJob?>>.broadcast());

  @override
  Future<Result<CreatedJob>> createJob(NewJobRequest request, {UploadProgressCallback? onProgress}) async {
    createdRequests.add(request);
    for (final (sent, total) in uploadSteps) {
      onProgress?.call(sent, total);
      await Future<void>.delayed(Duration.zero);
    }
    return createResult;
  }

  @override
  Stream<Result<AvatarJob?>> watchJob(String jobId) => _streamFor(jobId).stream;

  @override
  Stream<Result<List<AvatarJob>>> watchMyJobs({int limit = 50}) => _myJobs.stream;

  @override
  Future<Result<void>> cancelJob(String jobId) async {
    cancelledJobIds.add(jobId);
    return cancelResult;
  }

  final List<String> deletedJobIds = [];
  Result<void> deleteResult = const Result.ok(null);

  @override
  Future<Result<void>> deleteJob(String jobId) async {
    deletedJobIds.add(jobId);
    return deleteResult;
  }

  @override
  Future<Result<CreatedJob>> retryJob(String jobId) async {
    retriedJobIds.add(jobId);
    return retryResult;
  }

  @override
  Future<Result<VideoSource>> videoSource(AvatarJob job) async {
    videoRequests.add(job.jobId);
    return videoResult;
  }

  @override
  NewJobRequest? requestFor(String jobId) => retainedRequests[jobId];
}
