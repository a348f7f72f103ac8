/// Build-time configuration, from `--dart-define` (see README.md).
///
/// ```sh
/// flutter run --dart-define=BACKEND_URL=https://api-xxxx.a.run.app
/// flutter run --dart-define=USE_FIREBASE_EMULATORS=true --dart-define=BACKEND_URL=http://10.0.2.2:8080
/// ```
class AppConfig {
  const AppConfig({
    required this.backendUrl,
    this.useEmulators = false,
    this.emulatorHost = 'localhost',
    this.authEmulatorPort = 9099,
    this.firestoreEmulatorPort = 8080,
  });

  /// Reads the `--dart-define` values. They are compile-time constants, so they must be read
  /// with `const String.fromEnvironment` (a runtime lookup would always see the defaults).
  factory AppConfig.fromEnvironment() {
    const backend = String.fromEnvironment('BACKEND_URL', defaultValue: 'http://localhost:8080');
    const useEmulators = bool.fromEnvironment('USE_FIREBASE_EMULATORS');
    const host = String.fromEnvironment('FIREBASE_EMULATOR_HOST', defaultValue: 'localhost');
    const authPort = int.fromEnvironment('AUTH_EMULATOR_PORT', defaultValue: 9099);
    const firestorePort = int.fromEnvironment('FIRESTORE_EMULATOR_PORT', defaultValue: 8080);
    return AppConfig(
      backendUrl: Uri.parse(backend),
      useEmulators: useEmulators,
      emulatorHost: host,
      authEmulatorPort: authPort,
      firestoreEmulatorPort: firestorePort,
    );
  }

  /// The api service's base URL, e.g. `https://api-xxxx.a.run.app` (a path prefix is kept).
  final Uri backendUrl;

  /// Talk to the Firebase Auth and Firestore emulators instead of the real project.
  final bool useEmulators;
  final String emulatorHost;
  final int authEmulatorPort;
  final int firestoreEmulatorPort;
}
