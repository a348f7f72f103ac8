import 'dart:async';

import 'package:flutter/foundation.dart';

import '../../../data/repositories/job/job_repository.dart';
import '../../../domain/models/avatar_job.dart';
import '../../../utils/result.dart';

/// The history page: the user's jobs, newest first, kept live.
class HistoryViewModel extends ChangeNotifier {
  HistoryViewModel({required JobRepository repository, int limit = 50}) : _repository = repository {
    _subscription = repository.watchMyJobs(limit: limit).listen(_onJobs);
  }

  final JobRepository _repository;
  late final StreamSubscription<Result<List<AvatarJob>>> _subscription;

  /// Why the last delete failed, if it did.
  Exception? deleteError;

  /// Deletes a job (after the screen asked for confirmation). The list drops it at once; the
  /// live query confirms. On failure the list is left as it was and [deleteError] says why.
  Future<bool> deleteJob(String jobId) async {
    final before = _jobs;
    _jobs = [for (final job in _jobs) if (job.jobId != jobId) job];
    deleteError = null;
    notifyListeners();
    final result = await _repository.deleteJob(jobId);
    if (result is Err) {
      _jobs = before;
      deleteError = (result as Err).error;
      notifyListeners();
      return false;
    }
    return true;
  }

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
