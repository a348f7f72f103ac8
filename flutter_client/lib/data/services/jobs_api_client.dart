import 'dart:async';
import 'dart:convert';

import 'package:http/http.dart' as http;
import 'package:http_parser/http_parser.dart';

import '../../domain/models/app_exception.dart';
import '../../domain/models/created_job.dart';
import '../../domain/models/media_file.dart';
import '../../domain/models/new_job_request.dart';
import '../../domain/models/video_source.dart';
import '../../utils/result.dart';
import 'progress_multipart_request.dart';

/// Supplies the Firebase ID token; [forceRefresh] asks for a new one.
typedef IdTokenProvider = Future<String?> Function({bool forceRefresh});

/// The backend's HTTP API (DESIGN.md). Every call carries `Authorization: Bearer <ID token>`;
/// when the backend answers 401 the token is refreshed once and the call repeated, since a
/// cached token can expire between Firebase's refreshes.
class JobsApiClient {
  JobsApiClient({required Uri backendUrl, required IdTokenProvider idToken, http.Client? client})
      : _backendUrl = backendUrl,
        _idToken = idToken,
        _client = client ?? http.Client();

  final Uri _backendUrl;
  final IdTokenProvider _idToken;
  final http.Client _client;

  /// Short calls give up after this; uploads have no overall limit (a 30 MB file on a slow
  /// connection takes minutes), only the connection's own timeouts.
  static const callTimeout = Duration(seconds: 30);

  /// A path of the backend (`/jobs/x/video`) as a full URL, keeping a path prefix of
  /// BACKEND_URL; a full URL passes through unchanged.
  Uri resolve(String pathOrUrl) => resolveBackendUrl(_backendUrl, pathOrUrl);

  /// `POST /generate-with-tasks`: uploads the photo and audio; answers 202 with the job id.
  Future<Result<CreatedJob>> createJob(NewJobRequest request, {UploadProgress? onProgress}) async {
    final sent = await _send((token) {
      final upload = ProgressMultipartRequest('POST', resolve('/generate-with-tasks'), onProgress: onProgress)
        ..headers.addAll(_headers(token))
        // Fields first: the server can check them before the large file parts arrive.
        ..fields['instructorName'] = request.instructorName
        ..fields['instructorBio'] = request.instructorBio
        ..files.add(_part('image', request.image))
        ..files.add(_part('audio', request.audio));
      return _client.send(upload);
    });
    return _createdJob(sent);
  }

  /// `POST /jobs/:jobId/cancel`: asks the backend to stop the job (202). The job document
  /// shows `cancelRequested`, then status `cancelled` once the pipeline has stopped.
  Future<Result<void>> cancelJob(String jobId) async =>
      _done(await _call('POST', '/jobs/${Uri.encodeComponent(jobId)}/cancel'));

  /// `POST /jobs/:jobId/retry`: a new job from a failed or cancelled job's photo and recording,
  /// which the backend still holds (202 with the new job's id). 409 while the job runs, 410 when
  /// its uploads are gone: the app then needs the files again.
  Future<Result<CreatedJob>> retryJob(String jobId) async =>
      _createdJob(await _call('POST', '/jobs/${Uri.encodeComponent(jobId)}/retry'));

  /// `DELETE /jobs/:jobId`: removes the job, its uploads and its video (a running job is
  /// cancelled first). 204; 404 when it is not the caller's.
  Future<Result<void>> deleteJob(String jobId) async =>
      _done(await _call('DELETE', '/jobs/${Uri.encodeComponent(jobId)}'));

  /// `POST /devices {token, platform}`: registers this device's FCM token for the signed-in
  /// user, so the backend can say when a job ends (204).
  Future<Result<void>> registerDevice({required String token, required String platform}) async =>
      _done(await _call('POST', '/devices', json: {'token': token, 'platform': platform}));

  /// Where to play the finished video of [jobId] from ([videoUrl] is the document's
  /// `result.videoUrl`, used when present).
  ///
  /// Asks `HEAD` of the video route without following redirects: a backend that keeps videos
  /// in Cloud Storage answers with a redirect to a signed URL, which the player must fetch
  /// without our bearer token; a backend that streams the video itself answers 200, and the
  /// player must send the token. (On the web the browser follows redirects by itself and a
  /// video element cannot send headers, so there the signed-URL backend is needed.)
  Future<Result<VideoSource>> videoSource(String jobId, {String? videoUrl}) async {
    final target = resolve(
      videoUrl != null && videoUrl.isNotEmpty ? videoUrl : '/jobs/${Uri.encodeComponent(jobId)}/video',
    );
    String? usedToken;
    final sent = await _send((token) {
      usedToken = token;
      return _client
          .send(http.Request('HEAD', target)
            ..followRedirects = false
            ..headers.addAll(_headers(token)))
          .timeout(callTimeout);
    }, acceptRedirects: true);
    switch (sent) {
      case Err<http.Response>(:final error):
        return Result.error(error);
      case Ok<http.Response>(value: final response):
        final location = response.headers['location'];
        if (response.isRedirect || (response.statusCode >= 300 && response.statusCode < 400 && location != null)) {
          if (location == null) return Result.error(_badResponse(response, 'redirect without a location'));
          return Result.ok(VideoSource(url: target.resolve(location)));
        }
        return Result.ok(VideoSource(url: target, headers: {'Authorization': 'Bearer $usedToken'}));
    }
  }

  /// Sends what [build] makes with a token; on 401 once more with a fresh token. Non-2xx
  /// answers (other than redirects when [acceptRedirects]) become errors.
  Future<Result<http.Response>> _send(
    Future<http.StreamedResponse> Function(String token) build, {
    bool acceptRedirects = false,
  }) async {
    try {
      var token = await _idToken();
      if (token == null) return Result.error(_notSignedIn);
      var response = await http.Response.fromStream(await build(token));
      if (response.statusCode == 401) {
        token = await _idToken(forceRefresh: true);
        if (token == null) return Result.error(_notSignedIn);
        response = await http.Response.fromStream(await build(token));
      }
      final ok = response.statusCode >= 200 && response.statusCode < 300;
      final redirect = acceptRedirects && response.statusCode >= 300 && response.statusCode < 400;
      if (ok || redirect) return Result.ok(response);
      return Result.error(_errorFrom(response));
    } on http.ClientException catch (e) {
      return Result.error(AppException(AppException.network, 'Could not reach the server: ${e.message}'));
    } on TimeoutException {
      return Result.error(const AppException(AppException.network, 'The server did not answer in time'));
    }
  }

  /// A short call without files: [method] on [path] with the token, an optional JSON body, and
  /// [callTimeout].
  Future<Result<http.Response>> _call(String method, String path, {Map<String, Object?>? json}) => _send((token) {
        final request = http.Request(method, resolve(path))..headers.addAll(_headers(token));
        if (json != null) {
          request
            ..headers['content-type'] = 'application/json'
            ..body = jsonEncode(json);
        }
        return _client.send(request).timeout(callTimeout);
      });

  /// The answer of a call that starts a job: its id (202).
  Result<CreatedJob> _createdJob(Result<http.Response> sent) => switch (sent) {
        Err<http.Response>(:final error) => Result.error(error),
        Ok<http.Response>(value: final response) => _decode<CreatedJob>(response, (json) {
            final created = CreatedJob.fromJson(json);
            return created == null
                ? Result<CreatedJob>.error(_badResponse(response, 'no jobId in the answer'))
                : Result.ok(created);
          }),
      };

  /// The answer of a call that says nothing but its status.
  Result<void> _done(Result<http.Response> sent) => switch (sent) {
        Err<http.Response>(:final error) => Result.error(error),
        Ok<http.Response>(value: final response) => _decode<void>(response, (_) => const Result.ok(null)),
      };

  Map<String, String> _headers(String token) => {
        'Authorization': 'Bearer $token',
        'Accept': 'application/json',
      };

  http.MultipartFile _part(String field, MediaFile media) => http.MultipartFile(
        field,
        media.openRead(),
        media.length,
        filename: media.name,
        contentType: MediaType.parse(media.mimeType),
      );

  Result<T> _decode<T>(http.Response response, Result<T> Function(Map<String, Object?> json) read) {
    if (response.body.isEmpty) return read(const {});
    try {
      final json = jsonDecode(response.body);
      if (json is! Map<String, Object?>) return Result.error(_badResponse(response, 'not a JSON object'));
      return read(json);
    } on FormatException {
      return Result.error(_badResponse(response, 'not JSON'));
    }
  }

  /// Maps `{success: false, error: {code, message}}`, or the status alone when the body is not
  /// that (a proxy's HTML error page, say).
  AppException _errorFrom(http.Response response) {
    final status = response.statusCode;
    try {
      final json = jsonDecode(response.body);
      if (json case {'error': {'code': final String code, 'message': final String message}}) {
        return AppException(code, message, statusCode: status);
      }
    } on FormatException {
      // Not JSON: fall through to the status.
    }
    return switch (status) {
      401 || 403 => AppException(AppException.unauthenticated, 'The server refused the sign-in ($status)',
          statusCode: status),
      404 => AppException(AppException.notFound, 'This job does not exist', statusCode: status),
      _ => AppException('http_$status', 'The server answered $status', statusCode: status),
    };
  }

  AppException _badResponse(http.Response response, String why) => AppException(
        AppException.badResponse,
        'Unexpected answer from the server ($why)',
        statusCode: response.statusCode,
      );

  static const _notSignedIn = AppException(AppException.unauthenticated, 'Not signed in');
}

/// [pathOrUrl] against [base], keeping [base]'s path as a prefix (`Uri.resolve` would drop it
/// for a path starting with `/`). A full URL is returned as is.
Uri resolveBackendUrl(Uri base, String pathOrUrl) {
  final ref = Uri.parse(pathOrUrl);
  if (ref.hasScheme) return ref;
  final prefix = base.path.endsWith('/') ? base.path.substring(0, base.path.length - 1) : base.path;
  final path = ref.path.startsWith('/') ? ref.path : '/${ref.path}';
  return base.replace(path: '$prefix$path', query: ref.hasQuery ? ref.query : null);
}
