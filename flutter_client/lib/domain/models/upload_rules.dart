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

  static String? validateName(String? value) {
    final name = value?.trim() ?? '';
    if (name.isEmpty) return 'Enter the instructor\'s name';
    if (name.length > maxNameLength) return 'At most $maxNameLength characters';
    return null;
  }

  static String? validateBio(String? value) {
    final bio = value?.trim() ?? '';
    if (bio.isEmpty) return 'Enter a short bio';
    if (bio.length > maxBioLength) return 'At most $maxBioLength characters';
    return null;
  }

  static String? validateImage(MediaFile? image) {
    if (image == null) return 'Pick a photo';
    if (!imageTypes.contains(image.mimeType)) return 'Use a JPEG, PNG, WebP or HEIC photo';
    if (image.length > maxImageBytes) return 'The photo must be at most 10 MB';
    return null;
  }

  static String? validateAudio(MediaFile? audio) {
    if (audio == null) return 'Pick an audio file';
    if (!audioTypes.contains(audio.mimeType)) return 'Use an MP3, WAV or M4A file';
    if (audio.length > maxAudioBytes) return 'The audio must be at most 30 MB';
    return null;
  }
}
