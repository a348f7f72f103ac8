import 'package:flutter/material.dart';

import '../../../l10n/app_localizations.dart';

/// Shown instead of the app when lib/firebase_options.dart is still the committed placeholder
/// and the emulators were not asked for: says what to run, rather than failing before the
/// first frame.
class SetupScreen extends StatelessWidget {
  const SetupScreen({super.key});

  static const configureCommands = 'dart pub global activate flutterfire_cli\n'
      'flutterfire configure --project=<your-firebase-project-id>';
  static const emulatorCommand = 'flutter run --dart-define=USE_FIREBASE_EMULATORS=true '
      '--dart-define=BACKEND_URL=http://10.0.2.2:8081';

  @override
  Widget build(BuildContext context) {
    final l10n = AppLocalizations.of(context);
    final textTheme = Theme.of(context).textTheme;
    return Scaffold(
      appBar: AppBar(title: Text(l10n.setupTitle)),
      body: ListView(
        padding: const EdgeInsets.all(24),
        children: [
          Text(l10n.setupBody, style: textTheme.bodyLarge),
          const SizedBox(height: 16),
          Text(l10n.setupConfigure, style: textTheme.titleSmall),
          const _Command(configureCommands),
          const SizedBox(height: 16),
          Text(l10n.setupEmulators, style: textTheme.titleSmall),
          const _Command(emulatorCommand),
        ],
      ),
    );
  }
}

class _Command extends StatelessWidget {
  const _Command(this.text);

  final String text;

  @override
  Widget build(BuildContext context) => Container(
        margin: const EdgeInsets.only(top: 8),
        padding: const EdgeInsets.all(12),
        color: Theme.of(context).colorScheme.surfaceContainerHighest,
        child: SelectableText(text, style: const TextStyle(fontFamily: 'monospace')),
      );
}

/// The app shell for the setup screen: localized like the app, nothing else wired.
class SetupApp extends StatelessWidget {
  const SetupApp({super.key});

  @override
  Widget build(BuildContext context) => MaterialApp(
        onGenerateTitle: (context) => AppLocalizations.of(context).appTitle,
        theme: ThemeData(colorSchemeSeed: Colors.indigo, useMaterial3: true),
        localizationsDelegates: AppLocalizations.localizationsDelegates,
        supportedLocales: AppLocalizations.supportedLocales,
        home: const SetupScreen(),
      );
}
