import 'package:flutter/foundation.dart';

import '../../../utils/result.dart';

/// Who the user is. Notifies listeners when they sign in or out.
abstract class AuthRepository extends ChangeNotifier {
  /// The signed-in user's id, or null.
  String? get uid;

  bool get isSignedIn => uid != null;

  /// Signs in anonymously (unless already signed in); answers the user's id.
  Future<Result<String>> signIn();

  Future<Result<void>> signOut();
}
