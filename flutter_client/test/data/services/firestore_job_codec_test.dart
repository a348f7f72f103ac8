import 'package:avatar_jobs/data/services/firestore_job_codec.dart';
import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:cloud_firestore/cloud_firestore.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../testing/models/job_fixtures.dart';

void main() {
  for (final status in fixtureStatuses) {
    test('when Firestore hands over the $status document with Timestamps, it reads like the JSON', () {
      final fromFirestore = avatarJobFromFirestore(fixtureAsFirestore(status), id: 'ignored');
      final fromJson = fixtureJob(status);

      expect(fromFirestore.status, fromJson.status);
      expect(fromFirestore.jobId, fromJson.jobId);
      expect(fromFirestore.createdAt, fromJson.createdAt);
      expect(fromFirestore.updatedAt, fromJson.updatedAt);
      expect(fromFirestore.completedAt, fromJson.completedAt);
      expect(fromFirestore.nextRunAt, fromJson.nextRunAt);
      expect(fromFirestore.createdAt?.isUtc, isTrue);
    });
  }

  test('when the document lacks jobId, the document id stands in', () {
    final job = avatarJobFromFirestore({'status': 'queued', 'createdAt': Timestamp.fromMillisecondsSinceEpoch(0)}, id: 'doc_1');
    expect(job.jobId, 'doc_1');
    expect(job.status, JobStatus.queued);
    expect(job.createdAt, DateTime.utc(1970));
  });

  test('the app never writes job documents', () {
    expect(() => avatarJobToFirestore(fixtureJob('queued'), null), throwsUnsupportedError);
  });
}
