import 'package:cloud_firestore/cloud_firestore.dart';

import '../../domain/models/avatar_job.dart';

/// Reads a job document for `withConverter`. Firestore hands timestamps over as [Timestamp]s;
/// they become [DateTime]s here so that the domain model never depends on Firestore.
AvatarJob avatarJobFromSnapshot(
  DocumentSnapshot<Map<String, dynamic>> snapshot,
  SnapshotOptions? options,
) =>
    avatarJobFromFirestore(snapshot.data() ?? const {}, id: snapshot.id);

/// Reads the data of a job document as Firestore returns it.
AvatarJob avatarJobFromFirestore(Map<String, dynamic> data, {required String id}) =>
    AvatarJob.fromJson(_normalize(data) as Map<String, Object?>, id: id);

/// Job documents are written by the backend only (the security rules deny client writes), so
/// the converter's write half is never used.
Map<String, Object?> avatarJobToFirestore(AvatarJob job, SetOptions? options) =>
    throw UnsupportedError('Job documents are written by the backend only');

Object? _normalize(Object? value) => switch (value) {
      Timestamp timestamp => timestamp.toDate().toUtc(),
      Map<dynamic, dynamic> map => <String, Object?>{
          for (final entry in map.entries) '${entry.key}': _normalize(entry.value),
        },
      List<dynamic> list => [for (final item in list) _normalize(item)],
      _ => value,
    };
