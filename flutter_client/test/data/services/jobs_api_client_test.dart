import 'dart:convert';

import 'package:avatar_jobs/data/services/jobs_api_client.dart';
import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/domain/models/created_job.dart';
import 'package:avatar_jobs/domain/models/new_job_request.dart';
import 'package:avatar_jobs/domain/models/video_source.dart';
import 'package:avatar_jobs/utils/result.dart';
import 'package:flutter_test/flutter_test.dart';
import 'package:http/http.dart' as http;
import 'package:http/testing.dart';

import '../../../testing/fakes/services/fake_media_picker.dart';

void main() {
  final backend = Uri.parse('https://api.example.test');
  final request = NewJobRequest(
    image: memoryFile('face.jpg', 'image/jpeg', length: 2048),
    audio: memoryFile('voice.mp3', 'audio/mpeg', length: 4096),
    instructorName: 'Ada Lovelace',
    instructorBio: 'Mathematician',
  );

  /// Hands out token-1, then token-2 after a forced refresh.
  Future<String?> Function({bool forceRefresh}) tokens() {
    var refreshed = false;
    return ({bool forceRefresh = false}) async {
      if (forceRefresh) refreshed = true;
      return refreshed ? 'token-2' : 'token-1';
    };
  }

  test('creating a job posts the fields and both files with the bearer token, and reports progress', () async {
    late http.Request seen;
    final client = MockClient((req) async {
      seen = req;
      return http.Response(
        jsonEncode({'success': true, 'jobId': 'job_1', 'message': 'queued', 'statusUrl': '/jobs/job_1', 'eventsUrl': '/jobs/job_1/events'}),
        202,
      );
    });
    final progress = <(int, int)>[];
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final result = await api.createJob(request, onProgress: (sent, total) => progress.add((sent, total)));

    expect(result, isA<Ok<CreatedJob>>());
    expect((result as Ok<CreatedJob>).value.jobId, 'job_1');
    expect(seen.method, 'POST');
    expect(seen.url.toString(), 'https://api.example.test/generate-with-tasks');
    expect(seen.headers['authorization'] ?? seen.headers['Authorization'], 'Bearer token-1');
    expect(seen.headers['content-type'], startsWith('multipart/form-data; boundary='));
    final body = latin1.decode(seen.bodyBytes);
    expect(body, contains('name="instructorName"'));
    expect(body, contains('Ada Lovelace'));
    expect(body, contains('name="image"; filename="face.jpg"'));
    expect(body, contains('name="audio"; filename="voice.mp3"'));
    expect(body, contains('content-type: image/jpeg'));
    expect(progress, isNotEmpty);
    expect(progress.last.$1, progress.last.$2);
    expect(progress.last.$2, seen.bodyBytes.length);
  });

  test('when the backend refuses the token once, the call is repeated with a fresh token', () async {
    final seenTokens = <String?>[];
    final client = MockClient((req) async {
      seenTokens.add(req.headers['Authorization']);
      return seenTokens.length == 1
          ? http.Response('{"success":false,"error":{"code":"unauthenticated","message":"expired"}}', 401)
          : http.Response('', 202);
    });
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final result = await api.cancelJob('job_1');

    expect(result, isA<Ok<void>>());
    expect(seenTokens, ['Bearer token-1', 'Bearer token-2']);
  });

  test("an error answer's code and message come through as an AppException", () async {
    final client = MockClient((_) async => http.Response(
          '{"success":false,"error":{"code":"file_too_large","message":"The image is over 10 MB"}}',
          413,
        ));
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final result = await api.createJob(request);

    final error = (result as Err<CreatedJob>).error as AppException;
    expect(error.code, 'file_too_large');
    expect(error.message, 'The image is over 10 MB');
    expect(error.statusCode, 413);
  });

  test('a non-JSON error page still gives a readable error, and a lost connection is a network error', () async {
    final html = JobsApiClient(
      backendUrl: backend,
      idToken: tokens(),
      client: MockClient((_) async => http.Response('<html>Bad gateway</html>', 502)),
    );
    expect(((await html.cancelJob('j')) as Err<void>).error, isA<AppException>().having((e) => e.code, 'code', 'http_502'));

    final offline = JobsApiClient(
      backendUrl: backend,
      idToken: tokens(),
      client: MockClient((req) async => throw http.ClientException('Connection refused', req.url)),
    );
    expect(((await offline.cancelJob('j')) as Err<void>).error,
        isA<AppException>().having((e) => e.code, 'code', AppException.network));
  });

  test('when nobody is signed in, nothing is sent', () async {
    var calls = 0;
    final api = JobsApiClient(
      backendUrl: backend,
      idToken: ({bool forceRefresh = false}) async => null,
      client: MockClient((_) async {
        calls++;
        return http.Response('', 202);
      }),
    );
    final result = await api.cancelJob('job_1');
    expect(((result as Err<void>).error as AppException).code, AppException.unauthenticated);
    expect(calls, 0);
  });

  test('a video the backend redirects to a signed URL is played from there without the token', () async {
    final client = MockClient((req) async {
      expect(req.method, 'HEAD');
      expect(req.followRedirects, isFalse);
      return http.Response('', 302, headers: {'location': 'https://storage.example.test/v.mp4?X-Goog-Signature=abc'});
    });
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final result = await api.videoSource('job_1', videoUrl: '/jobs/job_1/video');

    final source = (result as Ok<VideoSource>).value;
    expect(source.url.host, 'storage.example.test');
    expect(source.headers, isEmpty);
  });

  test('a video the backend streams itself is played from the backend with the token', () async {
    final api = JobsApiClient(
      backendUrl: Uri.parse('https://api.example.test/prefix/'),
      idToken: tokens(),
      client: MockClient((_) async => http.Response('', 200, headers: {'content-type': 'video/mp4'})),
    );

    final source = ((await api.videoSource('job_1', videoUrl: '/jobs/job_1/video')) as Ok<VideoSource>).value;

    expect(source.url.toString(), 'https://api.example.test/prefix/jobs/job_1/video');
    expect(source.headers, {'Authorization': 'Bearer token-1'});
  });

  test('backend paths keep the base URL prefix; full URLs pass through', () {
    expect(resolveBackendUrl(Uri.parse('http://10.0.2.2:8080'), '/jobs/a/video').toString(), 'http://10.0.2.2:8080/jobs/a/video');
    expect(resolveBackendUrl(Uri.parse('https://x.test/api'), 'jobs/a').toString(), 'https://x.test/api/jobs/a');
    expect(resolveBackendUrl(Uri.parse('https://x.test/api'), 'https://cdn.test/v.mp4').toString(), 'https://cdn.test/v.mp4');
  });

  test('retrying a job posts /jobs/:id/retry with the token and answers the new job', () async {
    late http.Request seen;
    final client = MockClient((req) async {
      seen = req;
      return http.Response(
        jsonEncode({'success': true, 'jobId': 'job_2', 'statusUrl': '/jobs/job_2', 'eventsUrl': '/jobs/job_2/events', 'retriedFrom': 'job_1'}),
        202,
      );
    });
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final result = await api.retryJob('job_1');

    expect((result as Ok<CreatedJob>).value.jobId, 'job_2');
    expect(seen.method, 'POST');
    expect(seen.url.toString(), 'https://api.example.test/jobs/job_1/retry');
    expect(seen.headers['authorization'] ?? seen.headers['Authorization'], 'Bearer token-1');
  });

  test('a retry the backend refuses keeps its code and status (410: the uploads are gone)', () async {
    final client = MockClient((req) async => http.Response(
          jsonEncode({'success': false, 'error': {'code': 'uploads_gone', 'message': 'The uploads are gone'}}),
          410,
        ));
    final api = JobsApiClient(backendUrl: backend, idToken: tokens(), client: client);

    final error = ((await api.retryJob('job_1')) as Err<CreatedJob>).error as AppException;

    expect(error.code, 'uploads_gone');
    expect(error.statusCode, 410);
  });
}
