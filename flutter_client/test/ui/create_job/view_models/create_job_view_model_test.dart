import 'package:avatar_jobs/domain/models/app_exception.dart';
import 'package:avatar_jobs/domain/models/created_job.dart';
import 'package:avatar_jobs/domain/models/upload_rules.dart';
import 'package:avatar_jobs/ui/create_job/view_models/create_job_view_model.dart';
import 'package:avatar_jobs/utils/result.dart';
import 'package:flutter_test/flutter_test.dart';

import '../../../../testing/fakes/repositories/fake_job_repository.dart';
import '../../../../testing/fakes/services/fake_media_picker.dart';

void main() {
  const details = JobDetails(instructorName: 'Ada', instructorBio: 'Bio');

  test('while uploading, the progress goes from 0 to 1, then clears', () async {
    final repository = FakeJobRepository()..uploadSteps = const [(0, 200), (100, 200), (200, 200)];
    final picker = FakeMediaPicker(
      image: memoryFile('a.png', 'image/png'),
      audio: memoryFile('a.wav', 'audio/wav'),
    );
    final viewModel = CreateJobViewModel(repository: repository, picker: picker);
    await viewModel.pickImage.execute();
    await viewModel.pickAudio.execute();
    final seen = <double?>[];
    viewModel.addListener(() => seen.add(viewModel.uploadProgress));

    await viewModel.submit.execute(details);

    expect(seen, containsAllInOrder([0.0, 0.5, 1.0, null]));
    expect((viewModel.submit.result! as Ok<CreatedJob>).value.jobId, 'job_new');
    viewModel.dispose();
  });

  test('an audio file over 30 MB is refused with a message, and nothing is sent', () async {
    final repository = FakeJobRepository();
    final picker = FakeMediaPicker(
      image: memoryFile('a.jpg', 'image/jpeg'),
      audio: memoryFile('long.mp3', 'audio/mpeg', length: 31 * 1024 * 1024),
    );
    final viewModel = CreateJobViewModel(repository: repository, picker: picker);
    await viewModel.pickImage.execute();
    await viewModel.pickAudio.execute();

    await viewModel.submit.execute(details);

    expect(viewModel.audioError, UploadProblem.audioTooLarge);
    expect(((viewModel.submit.result! as Err<CreatedJob>).error as AppException).code, 'invalid_input');
    expect(repository.createdRequests, isEmpty);
    viewModel.dispose();
  });

  test('an upload error from the backend is the command result', () async {
    final repository = FakeJobRepository()
      ..createResult = const Result.error(AppException('too_many_jobs', 'You have 3 jobs running'));
    final picker = FakeMediaPicker(image: memoryFile('a.jpg', 'image/jpeg'), audio: memoryFile('a.mp3', 'audio/mpeg'));
    final viewModel = CreateJobViewModel(repository: repository, picker: picker);
    await viewModel.pickImage.execute();
    await viewModel.pickAudio.execute();

    await viewModel.submit.execute(details);

    expect(viewModel.submit.failed, isTrue);
    expect(viewModel.uploadProgress, isNull);
    viewModel.dispose();
  });
}
