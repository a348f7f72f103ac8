import 'package:avatar_jobs/main.dart' show needsSetup;
import 'package:avatar_jobs/ui/setup/widgets/setup_screen.dart';
import 'package:flutter/material.dart';
import 'package:flutter_test/flutter_test.dart';

void main() {
  test('the placeholder demo- project needs setup unless the emulators are used', () {
    expect(needsSetup('demo-avatar-jobs', useEmulators: false), isTrue);
    expect(needsSetup('demo-avatar-jobs', useEmulators: true), isFalse);
    expect(needsSetup('my-real-project', useEmulators: false), isFalse);
  });

  testWidgets('the setup screen says what to run: flutterfire configure, or the emulator flags', (tester) async {
    await tester.pumpWidget(const SetupApp());
    await tester.pumpAndSettle();

    expect(find.text('Connect the app to Firebase'), findsOneWidget);
    expect(find.textContaining('flutterfire configure --project='), findsOneWidget);
    expect(find.textContaining('--dart-define=USE_FIREBASE_EMULATORS=true'), findsOneWidget);
  });
}
