import 'package:cloud_firestore/cloud_firestore.dart';
import 'package:firebase_auth/firebase_auth.dart';
import 'package:firebase_core/firebase_core.dart';
import 'package:flutter/material.dart';
import 'package:provider/provider.dart';

import 'app.dart';
import 'config/app_config.dart';
import 'config/dependencies.dart';
import 'firebase_options.dart';
import 'ui/setup/widgets/setup_screen.dart';

Future<void> main() async {
  WidgetsFlutterBinding.ensureInitialized();
  final config = AppConfig.fromEnvironment();
  final options = DefaultFirebaseOptions.currentPlatform;
  if (needsSetup(options.projectId, useEmulators: config.useEmulators)) {
    // The committed firebase_options.dart is a placeholder for the emulators only: say what to
    // run instead of failing before the first frame.
    runApp(const SetupApp());
    return;
  }
  await Firebase.initializeApp(options: options);
  if (config.useEmulators) {
    // Must run before the first Auth or Firestore call, or the SDKs stay on production.
    await FirebaseAuth.instance.useAuthEmulator(config.emulatorHost, config.authEmulatorPort);
    FirebaseFirestore.instance.useFirestoreEmulator(config.emulatorHost, config.firestoreEmulatorPort);
  }
  runApp(MultiProvider(providers: providersFor(config), child: const AvatarJobsApp()));
}

/// True when [projectId] is the committed placeholder's `demo-` project and the emulators (the
/// only place such a project exists) were not asked for.
bool needsSetup(String projectId, {required bool useEmulators}) => projectId.startsWith('demo-') && !useEmulators;
