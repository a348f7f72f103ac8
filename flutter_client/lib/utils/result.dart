/// The outcome of an operation that can fail, returned by repositories and services instead
/// of throwing across layers, so that every caller has to look at the failure case.
///
/// ```dart
/// switch (await repository.cancelJob(id)) {
///   case Ok<void> _:
///     // done
///   case Err<void>(:final error):
///     showError(error);
/// }
/// ```
sealed class Result<T> {
  const Result();

  /// A success carrying [value].
  const factory Result.ok(T value) = Ok<T>;

  /// A failure carrying [error].
  const factory Result.error(Exception error) = Err<T>;

  /// The value on success, null on failure.
  T? get valueOrNull => switch (this) {
        Ok<T>(:final value) => value,
        Err<T> _ => null,
      };
}

/// A successful [Result].
final class Ok<T> extends Result<T> {
  const Ok(this.value);

  final T value;

  @override
  String toString() => 'Ok($value)';
}

/// A failed [Result].
final class Err<T> extends Result<T> {
  const Err(this.error);

  final Exception error;

  @override
  String toString() => 'Err($error)';
}
