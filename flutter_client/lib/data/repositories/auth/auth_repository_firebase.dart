import 'dart:async';

import 'package:firebase_auth/firebase_auth.dart';

import '../../../domain/models/app_exception.dart';
import '../../../utils/result.dart';
import '../../services/auth_service.dart';
import 'auth_repository.dart';

/// [AuthRepository] over Firebase Auth, anonymous by default.
class AuthRepositoryFirebase extends AuthRepository {
  AuthRepositoryFirebase({required AuthService authService}) : _auth = authService {
    _subscription = _auth.idTokenChanges().listen((_) => notifyListeners());
  }

  final AuthService _auth;
  late final StreamSubscription<User?> _subscription;

  @override
  String? get uid => _auth.uid;

  @override
  Future<Result<String>> signIn() async {
    final current = _auth.uid;
    if (current != null) return Result.ok(current);
    try {
      return Result.ok(await _auth.signInAnonymously());
    } on FirebaseAuthException catch (e) {
      return Result.error(AppException(AppException.unauthenticated, e.message ?? e.code));
    }
  }

  @override
  Future<Result<void>> signOut() async {
    try {
      await _auth.signOut();
      return const Result.ok(null);
    } on FirebaseAuthException catch (e) {
      return Result.error(AppException(AppException.unauthenticated, e.message ?? e.code));
    }
  }

  @override
  void dispose() {
    _subscription.cancel();
    super.dispose();
  }
}
