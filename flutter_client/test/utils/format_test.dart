import 'package:avatar_jobs/utils/format.dart';
import 'package:flutter_test/flutter_test.dart';

void main() {
  test('elapsed time reads as seconds, minutes, then hours', () {
    expect(formatElapsed(const Duration(seconds: 42)), '42 s');
    expect(formatElapsed(const Duration(minutes: 3, seconds: 5)), '3 min 05 s');
    expect(formatElapsed(const Duration(hours: 1, minutes: 2, seconds: 9)), '1 h 02 min');
  });

  test('sizes read as B, KB and MB', () {
    expect(formatBytes(512), '512 B');
    expect(formatBytes(1536), '1.5 KB');
    expect(formatBytes(10 * 1024 * 1024), '10.0 MB');
  });
}
