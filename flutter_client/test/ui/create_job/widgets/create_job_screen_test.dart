import 'package:avatar_jobs/ui/create_job/view_models/create_job_view_model.dart';
import 'package:avatar_jobs/l10n/app_localizations.dart';
import 'package:avatar_jobs/ui/create_job/widgets/create_job_screen.dart';
import 'package:flutter/material.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../../testing/fakes/repositories/fake_job_repository.dart';
import '../../../../testing/fakes/services/fake_media_picker.dart';

void main() {
  late FakeJobRepository repository;
  late FakeMediaPicker picker;
  late CreateJobViewModel viewModel;
  late List<String> opened;

  setUp(() {
    repository = FakeJobRepository();
    picker = FakeMediaPicker();
    viewModel = CreateJobViewModel(repository: repository, picker: picker);
    opened = [];
  });

  /// Unmounts the form before disposing its view model, which the form listens to.
  Future<void> close(WidgetTester tester) async {
    await tester.pumpWidget(const SizedBox.shrink());
    viewModel.dispose();
  }

  Future<void> showForm(WidgetTester tester, {Locale locale = const Locale('en')}) => tester.pumpWidget(MaterialApp(
        locale: locale,
        localizationsDelegates: AppLocalizations.localizationsDelegates,
        supportedLocales: AppLocalizations.supportedLocales,
        home: CreateJobScreen(viewModel: viewModel, onJobCreated: opened.add),
      ));

  testWidgets('tapping Create on an empty form shows every problem and uploads nothing', (tester) async {
    await showForm(tester);

    await tester.tap(find.byKey(const Key('create-job')));
    await tester.pump();

    expect(find.text("Enter the instructor's name"), findsOneWidget);
    expect(find.text('Enter a short bio'), findsOneWidget);
    expect(find.text('Pick a photo'), findsWidgets);
    expect(find.text('Pick an audio file'), findsOneWidget);
    expect(repository.createdRequests, isEmpty);
    expect(opened, isEmpty);
    await close(tester);
  });

  testWidgets('in Korean, the form and its problems are in Korean', (tester) async {
    await showForm(tester, locale: const Locale('ko'));

    await tester.tap(find.byKey(const Key('create-job')));
    await tester.pump();

    expect(find.text('새 아바타 영상'), findsOneWidget);
    expect(find.text('강사 이름을 입력하세요'), findsOneWidget);
    expect(find.text('사진을 선택하세요'), findsOneWidget);
    expect(find.text("Enter the instructor's name"), findsNothing);
    expect(repository.createdRequests, isEmpty);
    await close(tester);
  });

  testWidgets('a photo of the wrong type is refused before any upload', (tester) async {
    picker.image = memoryFile('scan.gif', 'image/gif');
    await showForm(tester);

    await tester.tap(find.byKey(const Key('pick-image')));
    await tester.pump();

    expect(find.text('Use a JPEG, PNG, WebP or HEIC photo'), findsOneWidget);
    expect(find.text('scan.gif'), findsOneWidget);
    await close(tester);
  });

  testWidgets('a complete form uploads once and opens the new job', (tester) async {
    picker
      ..image = memoryFile('face.jpg', 'image/jpeg')
      ..audio = memoryFile('voice.mp3', 'audio/mpeg');
    await showForm(tester);

    await tester.tap(find.byKey(const Key('pick-image')));
    await tester.tap(find.byKey(const Key('pick-audio')));
    await tester.enterText(find.byKey(const Key('instructor-name')), '  Ada Lovelace ');
    await tester.enterText(find.byKey(const Key('instructor-bio')), 'Mathematician');
    await tester.pump();
    expect(find.text('face.jpg'), findsOneWidget);

    await tester.tap(find.byKey(const Key('create-job')));
    await tester.pumpAndSettle();

    expect(repository.createdRequests, hasLength(1));
    expect(repository.createdRequests.single.instructorName, 'Ada Lovelace');
    expect(repository.createdRequests.single.image.name, 'face.jpg');
    expect(opened, ['job_new']);
    await close(tester);
  });
}
