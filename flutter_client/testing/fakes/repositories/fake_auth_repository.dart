import 'package:avatar_jobs/data/repositories/auth/auth_repository.dart';
import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/utils/result.dart';

/// An [AuthRepository] that signs in as [nextUid], or fails when [failSignIn] is set.
class FakeAuthRepository extends AuthRepository {
  FakeAuthRepository({String? uid}) : _uid = uid;

  String? _uid;
  String nextUid = 'u_test';
  bool failSignIn = false;

  @override
  String? get uid => _uid;

  @override
  Future<Result<String>> signIn() async {
    if (failSignIn) return const Result.error(AppException(AppException.unauthenticated, 'offline'));
    _uid = nextUid;
    notifyListeners();
    return Result.ok(nextUid);
  }

  @override
  Future<Result<void>> signOut() async {
    _uid = null;
    notifyListeners();
    return const Result.ok(null);
  }
}
