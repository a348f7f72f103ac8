import 'package:cross_file/cross_file.dart';
import 'package:file_picker/file_picker.dart';
import 'package:flutter/foundation.dart';
import 'package:image_picker/image_picker.dart';

import '../../domain/models/media_file.dart';
import '../../domain/models/upload_rules.dart';

/// Lets the user pick the photo and the audio file. Null when they back out.
abstract interface class MediaPicker {
  Future<MediaFile?> pickImage();
  Future<MediaFile?> pickAudio();
}

/// [MediaPicker] over the platform pickers: the photo library for the image (image_picker),
/// the file browser for audio (file_picker; image_picker does not pick audio).
class DeviceMediaPicker implements MediaPicker {
  DeviceMediaPicker({ImagePicker? imagePicker}) : _images = imagePicker ?? ImagePicker();

  final ImagePicker _images;

  @override
  Future<MediaFile?> pickImage() async {
    // requestFullMetadata: false avoids asking iOS for photo library permission just to read
    // EXIF data the backend does not use.
    final picked = await _images.pickImage(source: ImageSource.gallery, requestFullMetadata: false);
    if (picked == null) return null;
    return MediaFile(
      file: picked,
      name: picked.name,
      length: await picked.length(),
      mimeType: picked.mimeType ?? UploadRules.mimeTypeFor(picked.name),
    );
  }

  @override
  Future<MediaFile?> pickAudio() async {
    final result = await FilePicker.platform.pickFiles(
      type: FileType.custom,
      allowedExtensions: UploadRules.audioExtensions,
    );
    final picked = result?.files.single;
    if (picked == null) return null;
    // On the web a picked file has bytes and no path (reading `path` throws there); elsewhere it
    // has a path and is read from disk when uploaded, so a 30 MB file is never held in memory.
    final XFile file;
    if (kIsWeb) {
      final bytes = picked.bytes;
      if (bytes == null) return null;
      file = XFile.fromData(bytes, name: picked.name);
    } else {
      final path = picked.path;
      if (path == null) return null;
      file = XFile(path, name: picked.name);
    }
    return MediaFile(
      file: file,
      name: picked.name,
      length: picked.size,
      mimeType: UploadRules.mimeTypeFor(picked.name),
    );
  }
}
