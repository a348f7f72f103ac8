import 'package:flutter/material.dart';

import '../../../l10n/app_localizations.dart';
import '../../../utils/result.dart';
import '../../core/error_text.dart';
import '../view_models/sign_in_view_model.dart';

/// Shows [child] once the user is signed in; signs in anonymously on first build.
class AuthGate extends StatefulWidget {
  const AuthGate({super.key, required this.viewModel, required this.child});

  final SignInViewModel viewModel;
  final Widget child;

  @override
  State<AuthGate> createState() => _AuthGateState();
}

class _AuthGateState extends State<AuthGate> {
  @override
  void initState() {
    super.initState();
    if (!widget.viewModel.isSignedIn) widget.viewModel.signIn.execute();
  }

  @override
  Widget build(BuildContext context) {
    return ListenableBuilder(
      listenable: Listenable.merge([widget.viewModel, widget.viewModel.signIn]),
      builder: (context, _) {
        if (widget.viewModel.isSignedIn) return widget.child;
        final result = widget.viewModel.signIn.result;
        if (result is Err<String>) {
          final error = result.error;
          final l10n = AppLocalizations.of(context);
          return Scaffold(
            body: Center(
              child: Column(
                mainAxisSize: MainAxisSize.min,
                children: [
                  Text(l10n.couldNotSignIn(errorMessageOf(l10n, error))),
                  const SizedBox(height: 12),
                  FilledButton(onPressed: widget.viewModel.signIn.execute, child: Text(l10n.tryAgainButton)),
                ],
              ),
            ),
          );
        }
        return const Scaffold(body: Center(child: CircularProgressIndicator()));
      },
    );
  }
}
