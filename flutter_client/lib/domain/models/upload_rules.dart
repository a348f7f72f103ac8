import 'media_file.dart';

/// What the backend accepts (the provider's limits, DESIGN.md): checked in the form so the
/// user learns before a long upload, not after it. The backend checks again.
abstract final class UploadRules {
  static const maxImageBytes = 10 * 1024 * 1024;
  static const maxAudioBytes = 30 * 1024 * 1024;
  static const maxNameLength = 100;
  static const maxBioLength = 1000;

  static const imageTypes = {'image/jpeg', 'image/png', 'image/webp', 'image/heic'};
  static const audioTypes = {'audio/mpeg', 'audio/wav', 'audio/x-wav', 'audio/mp4', 'audio/x-m4a'};
  static const audioExtensions = ['mp3', 'wav', 'm4a'];

  /// The content type for a file name, from its extension; `application/octet-stream` if unknown.
  static String mimeTypeFor(String fileName) {
    final dot = fileName.lastIndexOf('.');
    final extension = dot < 0 ? '' : fileName.substring(dot + 1).toLowerCase();
    return switch (extension) {
      'jpg' || 'jpeg' => 'image/jpeg',
      'png' => 'image/png',
      'webp' => 'image/webp',
      'heic' => 'image/heic',
      'mp3' => 'audio/mpeg',
      'wav' => 'audio/wav',
      'm4a' => 'audio/mp4',
      _ => 'application/octet-stream',
    };
  }

  static UploadProblem? validateName(String? value) {
    final name = value?.trim() ?? '';
    if (name.isEmpty) return UploadProblem.nameMissing;
    if (name.length > maxNameLength) return UploadProblem.nameTooLong;
    return null;
  }

  static UploadProblem? validateBio(String? value) {
    final bio = value?.trim() ?? '';
    if (bio.isEmpty) return UploadProblem.bioMissing;
    if (bio.length > maxBioLength) return UploadProblem.bioTooLong;
    return null;
  }

  static UploadProblem? validateImage(MediaFile? image) {
    if (image == null) return UploadProblem.imageMissing;
    if (!imageTypes.contains(image.mimeType)) return UploadProblem.imageType;
    if (image.length > maxImageBytes) return UploadProblem.imageTooLarge;
    return null;
  }

  static UploadProblem? validateAudio(MediaFile? audio) {
    if (audio == null) return UploadProblem.audioMissing;
    if (!audioTypes.contains(audio.mimeType)) return UploadProblem.audioType;
    if (audio.length > maxAudioBytes) return UploadProblem.audioTooLarge;
    return null;
  }
}

/// What is wrong with a field of the form; the UI words it in the user's language
/// (lib/ui/core/job_text.dart).
enum UploadProblem {
  nameMissing,
  nameTooLong,
  bioMissing,
  bioTooLong,
  imageMissing,
  imageType,
  imageTooLarge,
  audioMissing,
  audioType,
  audioTooLarge,
}
