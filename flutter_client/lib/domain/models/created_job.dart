/// The backend's 202 answer to `POST /generate-with-tasks`.
class CreatedJob {
  const CreatedJob({required this.jobId, this.message = '', this.statusUrl, this.eventsUrl});

  /// Reads `{success, jobId, message, statusUrl, eventsUrl}`; null when `jobId` is missing.
  static CreatedJob? fromJson(Map<String, Object?> json) {
    final jobId = json['jobId'];
    if (jobId is! String || jobId.isEmpty) return null;
    return CreatedJob(
      jobId: jobId,
      message: json['message'] is String ? json['message']! as String : '',
      statusUrl: json['statusUrl'] is String ? json['statusUrl']! as String : null,
      eventsUrl: json['eventsUrl'] is String ? json['eventsUrl']! as String : null,
    );
  }

  final String jobId;
  final String message;
  final String? statusUrl;
  final String? eventsUrl;
}
