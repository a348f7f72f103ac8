import 'dart:async';

import 'package:firebase_core/firebase_core.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/new_job_request.dart';
import '../../../domain/models/video_source.dart';
import '../../../utils/result.dart';
import '../../services/job_document_service.dart';
import '../../services/jobs_api_client.dart';
import '../auth/auth_repository.dart';
import 'job_repository.dart';

/// [JobRepository] over the backend's HTTP API (writes) and Firestore (live reads).
class JobRepositoryRemote implements JobRepository {
  JobRepositoryRemote({
    required JobsApiClient apiClient,
    required JobDocumentService documents,
    required AuthRepository auth,
  })  : _api = apiClient,
        _documents = documents,
        _auth = auth;

  final JobsApiClient _api;
  final JobDocumentService _documents;
  final AuthRepository _auth;
  final Map<String, NewJobRequest> _requests = {};

  @override
  Future<Result<CreatedJob>> createJob(NewJobRequest request, {UploadProgressCallback? onProgress}) async {
    final result = await _api.createJob(request, onProgress: onProgress);
    if (result case Ok<CreatedJob>(:final value)) _requests[value.jobId] = request;
    return result;
  }

  @override
  Stream<Result<AvatarJob?>> watchJob(String jobId) => _asResults(_documents.watchJob(jobId));

  @override
  Stream<Result<List<AvatarJob>>> watchMyJobs({int limit = 50}) {
    final uid = _auth.uid;
    if (uid == null) {
      return Stream.value(const Result.error(AppException(AppException.unauthenticated, 'Not signed in')));
    }
    return _asResults(_documents.watchJobsOf(uid, limit: limit));
  }

  @override
  Future<Result<void>> cancelJob(String jobId) => _api.cancelJob(jobId);

  @override
  Future<Result<CreatedJob>> retryJob(String jobId) async {
    final result = await _api.retryJob(jobId);
    final request = _requests[jobId];
    if (result case Err<CreatedJob>(error: AppException(statusCode: 410)) when request != null) {
      return createJob(request);
    }
    return result;
  }

  @override
  Future<Result<void>> deleteJob(String jobId) => _api.deleteJob(jobId);

  @override
  Future<Result<VideoSource>> videoSource(AvatarJob job) =>
      _api.videoSource(job.jobId, videoUrl: job.result?.videoUrl);

  @override
  NewJobRequest? requestFor(String jobId) => _requests[jobId];

  /// Firestore listeners report failures as stream errors; the layers above get them as values.
  Stream<Result<T>> _asResults<T>(Stream<T> source) => source.transform(
        StreamTransformer<T, Result<T>>.fromHandlers(
          handleData: (data, sink) => sink.add(Result.ok(data)),
          handleError: (error, stackTrace, sink) => sink.add(Result.error(_describe(error))),
        ),
      );

  Exception _describe(Object error) => switch (error) {
        // Firestore answers permission-denied for another user's job, exactly as the rules
        // intend: to the user that is the same as a job that does not exist.
        FirebaseException(code: 'permission-denied' || 'not-found') =>
          const AppException(AppException.notFound, 'This job does not exist or is not yours'),
        FirebaseException(:final code, :final message) => AppException(code, message ?? code),
        Exception e => e,
        _ => AppException('unexpected', '$error'),
      };
}
