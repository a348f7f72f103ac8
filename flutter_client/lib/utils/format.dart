/// `42 s`, `3 min 05 s`, `1 h 02 min`: elapsed time as people read it.
String formatElapsed(Duration duration) {
  final seconds = duration.inSeconds;
  if (seconds < 60) return '$seconds s';
  final minutes = duration.inMinutes;
  if (minutes < 60) return '$minutes min ${_two(seconds % 60)} s';
  return '${duration.inHours} h ${_two(minutes % 60)} min';
}

/// `512 B`, `1.2 MB`.
String formatBytes(int bytes) {
  if (bytes < 1024) return '$bytes B';
  if (bytes < 1024 * 1024) return '${(bytes / 1024).toStringAsFixed(1)} KB';
  return '${(bytes / (1024 * 1024)).toStringAsFixed(1)} MB';
}

/// `2025-03-14 09:26` in the device's time zone.
String formatDateTime(DateTime time) {
  final local = time.toLocal();
  return '${local.year}-${_two(local.month)}-${_two(local.day)} ${_two(local.hour)}:${_two(local.minute)}';
}

String _two(int n) => n.toString().padLeft(2, '0');
