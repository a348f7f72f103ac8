import 'package:http/http.dart' as http;

/// Called as the body goes out: bytes sent so far, and the body's total length.
typedef UploadProgress = void Function(int sentBytes, int totalBytes);

/// A multipart request that reports how much of its body has been handed to the connection.
///
/// The count is of bytes the HTTP client has pulled from the body stream, which on mobile and
/// desktop runs just ahead of the socket, so the bar tracks the real upload. On the web the
/// browser client reads the whole body into memory before sending, so the bar fills at once
/// and then waits for the answer.
class ProgressMultipartRequest extends http.MultipartRequest {
  ProgressMultipartRequest(super.method, super.url, {this.onProgress});

  final UploadProgress? onProgress;

  @override
  http.ByteStream finalize() {
    final body = super.finalize();
    final report = onProgress;
    if (report == null) return body;
    final total = contentLength;
    var sent = 0;
    return http.ByteStream(body.map((chunk) {
      sent += chunk.length;
      report(sent, total);
      return chunk;
    }));
  }
}
