/// A failure the UI can show: a stable [code] to branch on and a [message] for people.
///
/// The backend answers errors as `{success: false, error: {code, message}}`; those codes come
/// through unchanged. Failures that happen on the device use the codes below.
class AppException implements Exception {
  const AppException(this.code, this.message, {this.statusCode});

  /// No network, or the backend did not answer.
  static const network = 'network';

  /// No signed-in user, or the backend refused the token.
  static const unauthenticated = 'unauthenticated';

  /// The job does not exist or belongs to someone else (the two look the same on purpose).
  static const notFound = 'not_found';

  /// The backend answered something this app cannot read.
  static const badResponse = 'bad_response';

  /// The files of a job are no longer in memory, so it cannot be sent again as is.
  static const retryUnavailable = 'retry_unavailable';

  final String code;
  final String message;

  /// The HTTP status, when the failure came from the backend.
  final int? statusCode;

  @override
  String toString() => 'AppException($code${statusCode == null ? '' : ', $statusCode'}): $message';
}
