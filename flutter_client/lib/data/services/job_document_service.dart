import 'package:cloud_firestore/cloud_firestore.dart';

import '../../domain/models/avatar_job.dart';
import 'firestore_job_codec.dart';

/// Live job documents from Firestore, typed through `withConverter`.
class JobDocumentService {
  JobDocumentService({FirebaseFirestore? firestore})
      : _firestore = firestore ?? FirebaseFirestore.instance;

  /// The collection the backend writes (DESIGN.md).
  static const collection = 'avatarJobs';

  final FirebaseFirestore _firestore;

  CollectionReference<AvatarJob> get _jobs => _firestore
      .collection(collection)
      .withConverter<AvatarJob>(fromFirestore: avatarJobFromSnapshot, toFirestore: avatarJobToFirestore);

  /// The job, then every change to it; null while the document does not exist. Reading another
  /// user's job fails with `permission-denied` (the rules let only the owner read).
  Stream<AvatarJob?> watchJob(String jobId) =>
      _jobs.doc(jobId).snapshots().map((snapshot) => snapshot.data());

  /// The user's jobs, newest first. The query must filter on ownerUid: Firestore rules are not
  /// filters, and a query that could return other users' documents is refused as a whole.
  /// It needs the composite index (ownerUid ASC, createdAt DESC) from infra/.
  Stream<List<AvatarJob>> watchJobsOf(String uid, {int limit = 50}) => _jobs
      .where('ownerUid', isEqualTo: uid)
      .orderBy('createdAt', descending: true)
      .limit(limit)
      .snapshots()
      .map((query) => [for (final doc in query.docs) doc.data()]);
}
