import 'package:flutter/foundation.dart';

import 'result.dart';

/// An action a view model offers to its widgets (submit, cancel, retry), with its running
/// state and last result, so a button can show a spinner and a screen can show the error
/// without the view model keeping a flag per action.
///
/// A command ignores taps while it runs: a double tap on Create must not upload twice.
abstract class Command<T> extends ChangeNotifier {
  bool _running = false;
  Result<T>? _result;

  /// True while the action runs.
  bool get running => _running;

  /// The last result, until [clearResult]; null before the first run and while running.
  Result<T>? get result => _result;

  /// True when the last run failed.
  bool get failed => _result is Err<T>;

  /// True when the last run succeeded.
  bool get completed => _result is Ok<T>;

  /// Forgets the last result once the UI has shown it.
  void clearResult() {
    _result = null;
    notifyListeners();
  }

  Future<void> _run(Future<Result<T>> Function() action) async {
    if (_running) return;
    _running = true;
    _result = null;
    notifyListeners();
    try {
      _result = await action();
    } finally {
      _running = false;
      notifyListeners();
    }
  }
}

/// A [Command] without an argument.
class Command0<T> extends Command<T> {
  Command0(this._action);

  final Future<Result<T>> Function() _action;

  Future<void> execute() => _run(_action);
}

/// A [Command] with one argument.
class Command1<T, A> extends Command<T> {
  Command1(this._action);

  final Future<Result<T>> Function(A argument) _action;

  Future<void> execute(A argument) => _run(() => _action(argument));
}
