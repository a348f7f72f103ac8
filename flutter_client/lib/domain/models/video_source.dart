/// Where the player fetches a finished video from, and the headers it must send.
///
/// Either the backend's own video route (with the `Authorization` header), or a signed
/// storage URL the backend redirected to (no header: a signed URL carries its own
/// authorization, and storage rejects a request that also carries a bearer token).
class VideoSource {
  const VideoSource({required this.url, this.headers = const {}});

  final Uri url;
  final Map<String, String> headers;
}
