import 'package:flutter/material.dart';
import 'package:provider/provider.dart';

import 'l10n/app_localizations.dart';
import 'routing/routes.dart';
import 'ui/auth/view_models/sign_in_view_model.dart';
import 'ui/auth/widgets/auth_gate.dart';
import 'ui/core/push_listener.dart';

/// The app: every page waits behind the sign-in.
class AvatarJobsApp extends StatelessWidget {
  const AvatarJobsApp({super.key});

  /// Push taps open a job page and foreground pushes show a snackbar from outside any page.
  static final navigatorKey = GlobalKey<NavigatorState>();
  static final messengerKey = GlobalKey<ScaffoldMessengerState>();

  @override
  Widget build(BuildContext context) {
    return MaterialApp(
      onGenerateTitle: (context) => AppLocalizations.of(context).appTitle,
      // Korean or English after the device's locale; English when it is neither.
      localizationsDelegates: AppLocalizations.localizationsDelegates,
      supportedLocales: AppLocalizations.supportedLocales,
      navigatorKey: navigatorKey,
      scaffoldMessengerKey: messengerKey,
      theme: ThemeData(colorSchemeSeed: Colors.indigo, useMaterial3: true),
      onGenerateRoute: onGenerateRoute,
      builder: (context, child) => AuthGate(
        viewModel: context.read<SignInViewModel>(),
        child: PushListener(
          navigatorKey: navigatorKey,
          messengerKey: messengerKey,
          child: child ?? const SizedBox.shrink(),
        ),
      ),
    );
  }
}
