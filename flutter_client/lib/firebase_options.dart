// PLACEHOLDER. Replace this file by running, in flutter_client/:
//
//   dart pub global activate flutterfire_cli
//   flutterfire configure --project=<your-firebase-project-id>
//
// which writes the real options for each platform here. No real keys are committed.
//
// Until then these options name a `demo-` project: the Firebase emulators accept any project
// id that starts with `demo-` without a real project, so the app runs against them with
// `--dart-define=USE_FIREBASE_EMULATORS=true`. Against real Firebase they fail, and main.dart
// says so at start.
import 'package:firebase_core/firebase_core.dart' show FirebaseOptions;

/// Firebase options for the current platform (placeholder: see the comment above).
class DefaultFirebaseOptions {
  static FirebaseOptions get currentPlatform => const FirebaseOptions(
        apiKey: 'demo-api-key',
        appId: '1:000000000000:android:0000000000000000000000',
        messagingSenderId: '000000000000',
        projectId: 'demo-avatar-jobs',
      );
}
