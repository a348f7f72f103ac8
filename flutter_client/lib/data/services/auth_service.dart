import 'package:firebase_auth/firebase_auth.dart';

/// Thin wrapper over Firebase Auth: the one place the app touches it.
class AuthService {
  AuthService({FirebaseAuth? auth}) : _auth = auth ?? FirebaseAuth.instance;

  final FirebaseAuth _auth;

  /// The signed-in user's id, or null.
  String? get uid => _auth.currentUser?.uid;

  /// Fires on sign-in, sign-out and every token refresh.
  Stream<User?> idTokenChanges() => _auth.idTokenChanges();

  /// Signs in without an account; Firebase keeps the anonymous user across restarts.
  Future<String> signInAnonymously() async {
    final credential = await _auth.signInAnonymously();
    final user = credential.user;
    if (user == null) throw StateError('Anonymous sign-in returned no user');
    return user.uid;
  }

  /// The user's Firebase ID token for the `Authorization` header, or null when signed out.
  /// Firebase caches it and refreshes it shortly before it expires (after an hour);
  /// [forceRefresh] fetches a new one, for when the backend refused the cached one.
  Future<String?> idToken({bool forceRefresh = false}) async =>
      _auth.currentUser?.getIdToken(forceRefresh);

  Future<void> signOut() => _auth.signOut();
}
