import 'package:avatar_jobs/utils/format.dart';
import 'package:flutter_test/flutter_test.dart';

void main() {
  test('sizes read as B, KB and MB', () {
    expect(formatBytes(512), '512 B');
    expect(formatBytes(1536), '1.5 KB');
    expect(formatBytes(10 * 1024 * 1024), '10.0 MB');
  });
}
