import 'package:flutter/material.dart';
import 'package:provider/provider.dart';

import '../data/repositories/job/job_repository.dart';
import '../data/services/media_picker.dart';
import '../ui/create_job/view_models/create_job_view_model.dart';
import '../ui/create_job/widgets/create_job_screen.dart';
import '../ui/history/view_models/history_view_model.dart';
import '../ui/history/widgets/history_screen.dart';
import '../ui/job/view_models/job_view_model.dart';
import '../ui/job/widgets/job_screen.dart';

/// The app's pages: `/` (Create), `/history`, `/jobs/<jobId>`.
abstract final class Routes {
  static const create = '/';
  static const history = '/history';
  static const jobPrefix = '/jobs/';

  static String job(String jobId) => '$jobPrefix${Uri.encodeComponent(jobId)}';
}

/// Text to prefill the Create form with, when starting again from a failed job.
class CreatePrefill {
  const CreatePrefill({required this.instructorName, required this.instructorBio});

  final String instructorName;
  final String instructorBio;
}

/// Builds each page with its view model. The view model lives in a ChangeNotifierProvider so
/// that it is disposed (and its Firestore listener cancelled) when the page is popped.
Route<void> onGenerateRoute(RouteSettings settings) {
  final name = settings.name ?? Routes.create;
  if (name == Routes.history) {
    return MaterialPageRoute(
      settings: settings,
      builder: (context) => ChangeNotifierProvider(
        create: (context) => HistoryViewModel(repository: context.read<JobRepository>()),
        child: Consumer<HistoryViewModel>(
          builder: (context, viewModel, _) => HistoryScreen(
            viewModel: viewModel,
            onOpenJob: (jobId) => Navigator.of(context).pushNamed(Routes.job(jobId)),
          ),
        ),
      ),
    );
  }
  if (name.startsWith(Routes.jobPrefix)) {
    final jobId = Uri.decodeComponent(name.substring(Routes.jobPrefix.length));
    return MaterialPageRoute(
      settings: settings,
      builder: (context) => ChangeNotifierProvider(
        create: (context) => JobViewModel(jobId: jobId, repository: context.read<JobRepository>()),
        child: Consumer<JobViewModel>(
          builder: (context, viewModel, _) => JobScreen(
            viewModel: viewModel,
            onOpenJob: (id) => Navigator.of(context).pushReplacementNamed(Routes.job(id)),
            onStartAgain: (job) => Navigator.of(context).pushReplacementNamed(
              Routes.create,
              arguments: CreatePrefill(
                instructorName: job.input.instructorName,
                instructorBio: job.input.instructorBio,
              ),
            ),
          ),
        ),
      ),
    );
  }
  final prefill = settings.arguments is CreatePrefill ? settings.arguments! as CreatePrefill : null;
  return MaterialPageRoute(
    settings: settings,
    builder: (context) => ChangeNotifierProvider(
      create: (context) => CreateJobViewModel(
        repository: context.read<JobRepository>(),
        picker: context.read<MediaPicker>(),
        initialName: prefill?.instructorName ?? '',
        initialBio: prefill?.instructorBio ?? '',
      ),
      child: Consumer<CreateJobViewModel>(
        builder: (context, viewModel, _) => CreateJobScreen(
          viewModel: viewModel,
          onJobCreated: (jobId) => Navigator.of(context).pushNamed(Routes.job(jobId)),
          onOpenHistory: () => Navigator.of(context).pushNamed(Routes.history),
        ),
      ),
    ),
  );
}
