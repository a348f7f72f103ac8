import 'dart:async';

import 'package:flutter/foundation.dart';

import '../../../data/repositories/job/job_repository.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../utils/result.dart';

/// The history page: the user's jobs, newest first, kept live.
class HistoryViewModel extends ChangeNotifier {
  HistoryViewModel({required JobRepository repository, int limit = 50}) {
    _subscription = repository.watchMyJobs(limit: limit).listen(_onJobs);
  }

  late final StreamSubscription<Result<List<AvatarJob>>> _subscription;

  bool _loading = true;
  List<AvatarJob> _jobs = const [];
  Exception? _error;

  /// True until the first answer.
  bool get loading => _loading;
  List<AvatarJob> get jobs => _jobs;

  /// Why the list could not be loaded, if it could not.
  Exception? get error => _error;

  void _onJobs(Result<List<AvatarJob>> result) {
    _loading = false;
    switch (result) {
      case Ok<List<AvatarJob>>(:final value):
        _jobs = value;
        _error = null;
      case Err<List<AvatarJob>>(:final error):
        _error = error;
    }
    notifyListeners();
  }

  @override
  void dispose() {
    _subscription.cancel();
    super.dispose();
  }
}
