import 'dart:typed_data';

import 'package:avatar_jobs/data/services/media_picker.dart';
import 'package:avatar_jobs/domain/models/media_file.dart';
import 'package:cross_file/cross_file.dart';

/// A [MediaPicker] that hands out [image] and [audio] (null: the user backed out).
class FakeMediaPicker implements MediaPicker {
  FakeMediaPicker({this.image, this.audio});

  MediaFile? image;
  MediaFile? audio;

  @override
  Future<MediaFile?> pickImage() async => image;

  @override
  Future<MediaFile?> pickAudio() async => audio;
}

/// A small in-memory file.
MediaFile memoryFile(String name, String mimeType, {int length = 64}) => MediaFile(
      file: XFile.fromData(Uint8List(length), name: name, mimeType: mimeType),
      name: name,
      length: length,
      mimeType: mimeType,
    );
