import 'package:flutter/foundation.dart';

import '../../../data/repositories/job/job_repository.dart';
import '../../../data/services/media_picker.dart';
import '../../../domain/models/app_exception.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/media_file.dart';
import '../../../domain/models/new_job_request.dart';
import '../../../domain/models/upload_rules.dart';
import '../../../utils/command.dart';
import '../../../utils/result.dart';

/// The name and bio typed into the form.
class JobDetails {
  const JobDetails({required this.instructorName, required this.instructorBio});

  final String instructorName;
  final String instructorBio;
}

/// The Create form: the two picked files, their validation, and the upload with its progress.
/// The text fields validate themselves in the form (see [UploadRules]).
class CreateJobViewModel extends ChangeNotifier {
  CreateJobViewModel({
    required JobRepository repository,
    required MediaPicker picker,
    this.initialName = '',
    this.initialBio = '',
  })  : _repository = repository,
        _picker = picker {
    pickImage = Command0<void>(_pickImage);
    pickAudio = Command0<void>(_pickAudio);
    submit = Command1<CreatedJob, JobDetails>(_submit);
  }

  final JobRepository _repository;
  final MediaPicker _picker;

  /// Prefilled text, e.g. when starting again from a failed job.
  final String initialName;
  final String initialBio;

  late final Command0<void> pickImage;
  late final Command0<void> pickAudio;

  /// Validates the files, then uploads. Fails without uploading when a file is missing or
  /// unacceptable (the errors are in [imageError] and [audioError]).
  late final Command1<CreatedJob, JobDetails> submit;

  MediaFile? _image;
  MediaFile? _audio;
  UploadProblem? _imageError;
  UploadProblem? _audioError;
  double? _uploadProgress;

  MediaFile? get image => _image;
  MediaFile? get audio => _audio;
  UploadProblem? get imageError => _imageError;
  UploadProblem? get audioError => _audioError;

  /// 0 to 1 while the upload runs; null otherwise.
  double? get uploadProgress => _uploadProgress;

  Future<Result<void>> _pickImage() async {
    final picked = await _picker.pickImage();
    if (picked != null) {
      _image = picked;
      _imageError = UploadRules.validateImage(picked);
      notifyListeners();
    }
    return const Result.ok(null);
  }

  Future<Result<void>> _pickAudio() async {
    final picked = await _picker.pickAudio();
    if (picked != null) {
      _audio = picked;
      _audioError = UploadRules.validateAudio(picked);
      notifyListeners();
    }
    return const Result.ok(null);
  }

  /// Checks the picked files, showing what is wrong in [imageError] and [audioError].
  bool validateFiles() {
    _imageError = UploadRules.validateImage(_image);
    _audioError = UploadRules.validateAudio(_audio);
    notifyListeners();
    return _imageError == null && _audioError == null;
  }

  Future<Result<CreatedJob>> _submit(JobDetails details) async {
    final image = _image;
    final audio = _audio;
    if (!validateFiles() || image == null || audio == null) {
      return const Result.error(AppException('invalid_input', 'Check the photo and the audio file'));
    }
    _uploadProgress = 0;
    notifyListeners();
    try {
      return await _repository.createJob(
        NewJobRequest(
          image: image,
          audio: audio,
          instructorName: details.instructorName.trim(),
          instructorBio: details.instructorBio.trim(),
        ),
        onProgress: _onProgress,
      );
    } finally {
      _uploadProgress = null;
      notifyListeners();
    }
  }

  void _onProgress(int sent, int total) {
    if (total <= 0) return;
    final next = (sent / total).clamp(0.0, 1.0);
    // Chunks arrive every few kilobytes; repaint only when the bar moves by a whole percent.
    if (_uploadProgress != null && (next * 100).floor() == (_uploadProgress! * 100).floor()) return;
    _uploadProgress = next;
    notifyListeners();
  }

  @override
  void dispose() {
    pickImage.dispose();
    pickAudio.dispose();
    submit.dispose();
    super.dispose();
  }
}
