import 'package:flutter/foundation.dart';

import '../../../data/repositories/auth/auth_repository.dart';
import '../../../utils/command.dart';

/// Signs the user in anonymously at start, and again on demand when that failed.
class SignInViewModel extends ChangeNotifier {
  SignInViewModel({required AuthRepository auth}) : _auth = auth {
    signIn = Command0<String>(_auth.signIn);
    _auth.addListener(notifyListeners);
  }

  final AuthRepository _auth;

  late final Command0<String> signIn;

  bool get isSignedIn => _auth.isSignedIn;

  @override
  void dispose() {
    _auth.removeListener(notifyListeners);
    signIn.dispose();
    super.dispose();
  }
}
