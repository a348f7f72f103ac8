import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../testing/models/job_fixtures.dart';

void main() {
  group('every status fixture written by the server', () {
    for (final status in fixtureStatuses) {
      test('the $status example parses with its status, step and timestamps', () {
        final json = fixtureJson(status);
        final job = AvatarJob.fromJson(json);

        expect(job.status.wireName, status);
        expect(job.jobId, json['jobId']);
        expect(job.progress.stepRaw, (json['progress']! as Map)['currentStep']);
        expect(job.progress.step, isNot(JobStep.unknown));
        expect(job.createdAt, DateTime.parse(json['createdAt']! as String));
        expect(job.input.instructorName, isNotEmpty);
      });
    }

    test('processing at video.poll: step 3 of 4, percent, provider status and polls', () {
      final job = fixtureJob('processing');
      expect(job.progress.step, JobStep.videoPoll);
      expect(job.progress.stepNumber, 3);
      expect(job.progress.totalSteps, 4);
      expect(job.progress.percent, 60);
      expect(job.provider.providerStatus, 'creating');
      expect(job.provider.polls, greaterThan(0));
      expect(job.canCancel, isTrue);
      expect(job.nextRunAt, isNotNull);
    });

    test('completed: the result has a video URL relative to the backend', () {
      final job = fixtureJob('completed');
      expect(job.result?.videoUrl, '/jobs/${job.jobId}/video');
      expect(job.result?.durationSec, closeTo(12.48, 0.001));
      expect(job.completedAt, isNotNull);
      expect(job.canCancel, isFalse);
    });

    test('failed: the error code and message are there', () {
      final job = fixtureJob('failed');
      expect(job.error?.code, 'provider_rejected');
      expect(job.error?.message, contains('rejected'));
      expect(job.result, isNull);
    });

    test('cancelled: cancelRequested is set and the job is terminal', () {
      final job = fixtureJob('cancelled');
      expect(job.cancelRequested, isTrue);
      expect(job.status.isTerminal, isTrue);
    });
  });

  group('partial and unexpected documents never crash', () {
    test('an empty document gives defaults, with the document id as jobId', () {
      final job = AvatarJob.fromJson(const {}, id: 'job_x');
      expect(job.jobId, 'job_x');
      expect(job.status, JobStatus.unknown);
      expect(job.statusRaw, '');
      expect(job.progress.percent, 0);
      expect(job.result, isNull);
      expect(job.error, isNull);
      expect(job.createdAt, isNull);
      expect(job.elapsed(DateTime.utc(2025)), isNull);
    });

    test('an unknown status is shown as such, with its raw value', () {
      final json = {...fixtureJson('processing'), 'status': 'paused'};
      final job = AvatarJob.fromJson(json);
      expect(job.status, JobStatus.unknown);
      expect(job.statusRaw, 'paused');
      expect(job.canCancel, isFalse);
    });

    test('an unknown step keeps its raw name for display', () {
      final job = AvatarJob.fromJson(const {
        'status': 'processing',
        'progress': {'currentStep': 'video.upscale', 'stepNumber': 5, 'totalSteps': 6},
      });
      expect(job.progress.step, JobStep.unknown);
      expect(job.progress.stepRaw, 'video.upscale');
      expect(job.progress.stepNumber, 5);
    });

    test('fields of the wrong type fall back to defaults', () {
      final job = AvatarJob.fromJson(const {
        'jobId': 42,
        'status': 'queued',
        'progress': 'soon',
        'provider': {'polls': '3', 'avatarId': 7},
        'result': 'none',
        'createdAt': 'not a date',
        'cancelRequested': 'yes',
      }, id: 'job_doc');
      expect(job.jobId, 'job_doc');
      expect(job.status, JobStatus.queued);
      expect(job.progress.stepNumber, 0);
      expect(job.provider.polls, 0);
      expect(job.provider.avatarId, isNull);
      expect(job.result, isNull);
      expect(job.createdAt, isNull);
      expect(job.cancelRequested, isFalse);
    });

    test('a percent beyond 100 is clamped for the progress bar', () {
      final job = AvatarJob.fromJson(const {'progress': {'percent': 140}});
      expect(job.progress.percent, 100);
    });
  });

  group('timestamps', () {
    test('are read from ISO strings, DateTimes, epoch milliseconds and serialized Timestamps', () {
      final expected = DateTime.utc(2025, 3, 14, 9, 26, 53);
      expect(parseTimestamp('2025-03-14T09:26:53.000Z'), expected);
      expect(parseTimestamp(expected.toLocal()), expected);
      expect(parseTimestamp(expected.millisecondsSinceEpoch), expected);
      final seconds = expected.millisecondsSinceEpoch ~/ 1000;
      expect(parseTimestamp({'seconds': seconds, 'nanoseconds': 0}), expected);
      expect(parseTimestamp({'_seconds': seconds, '_nanoseconds': 0}), expected);
      expect(parseTimestamp(null), isNull);
      expect(parseTimestamp(true), isNull);
    });

    test('elapsed runs to now while active and stops at completedAt once finished', () {
      final now = DateTime.utc(2025, 3, 14, 9, 28, 53);
      expect(fixtureJob('processing').elapsed(now), const Duration(minutes: 2));
      final completed = fixtureJob('completed');
      expect(completed.elapsed(now.add(const Duration(hours: 5))), completed.completedAt!.difference(completed.createdAt!));
    });
  });
}
