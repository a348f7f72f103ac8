import 'package:cross_file/cross_file.dart';

/// A photo or audio file the user picked, ready to upload.
///
/// Backed by an [XFile] (a path on mobile and desktop, bytes in memory on the web), so it can
/// be read more than once: a retry uploads the same file again.
class MediaFile {
  const MediaFile({
    required this.file,
    required this.name,
    required this.length,
    required this.mimeType,
  });

  final XFile file;

  /// The file name shown to the user and sent as the part's filename.
  final String name;

  /// Size in bytes.
  final int length;

  /// The content type sent with the part, e.g. `image/jpeg`.
  final String mimeType;

  /// A fresh stream of the file's bytes.
  Stream<List<int>> openRead() => file.openRead();
}
