import 'media_file.dart';

/// What the Create form sends to `POST /generate-with-tasks`.
class NewJobRequest {
  const NewJobRequest({
    required this.image,
    required this.audio,
    required this.instructorName,
    required this.instructorBio,
  });

  final MediaFile image;
  final MediaFile audio;
  final String instructorName;
  final String instructorBio;
}
