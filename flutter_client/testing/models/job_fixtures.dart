import 'dart:convert';
import 'dart:io';

import 'package:avatar_jobs/domain/models/avatar_job.dart';
import 'package:cloud_firestore/cloud_firestore.dart';

/// The statuses that have a fixture in test/fixtures (written by the server's tests from
/// server/test/support/jobExamples.ts: one truth for the document shape).
const fixtureStatuses = ['queued', 'processing', 'completed', 'failed', 'cancelled'];

/// The fixture document for [status], as the JSON API sends it (ISO timestamps).
/// `flutter test` runs with the package root as the working directory.
Map<String, Object?> fixtureJson(String status) =>
    jsonDecode(File('test/fixtures/job_$status.json').readAsStringSync()) as Map<String, Object?>;

/// The fixture parsed into an [AvatarJob].
AvatarJob fixtureJob(String status) => AvatarJob.fromJson(fixtureJson(status));

const _timestampFields = {'createdAt', 'updatedAt', 'completedAt', 'leaseUntil', 'nextRunAt'};

/// The fixture as Firestore hands it to the app: timestamps are [Timestamp]s.
Map<String, dynamic> fixtureAsFirestore(String status) => {
      for (final entry in fixtureJson(status).entries)
        entry.key: _timestampFields.contains(entry.key) && entry.value is String
            ? Timestamp.fromDate(DateTime.parse(entry.value! as String))
            : entry.value,
    };
