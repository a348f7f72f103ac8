import 'package:flutter/material.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/media_file.dart';
import '../../../domain/models/upload_rules.dart';
import '../../../l10n/app_localizations.dart';
import '../../../utils/format.dart';
import '../../../utils/result.dart';
import '../../core/error_text.dart';
import '../../core/job_text.dart';
import '../view_models/create_job_view_model.dart';

/// The Create form: photo, audio, name and bio, then an upload with a progress bar.
class CreateJobScreen extends StatefulWidget {
  const CreateJobScreen({
    super.key,
    required this.viewModel,
    required this.onJobCreated,
    this.onOpenHistory,
  });

  final CreateJobViewModel viewModel;

  /// Called with the new job's id once the backend has accepted it.
  final void Function(String jobId) onJobCreated;
  final VoidCallback? onOpenHistory;

  @override
  State<CreateJobScreen> createState() => _CreateJobScreenState();
}

class _CreateJobScreenState extends State<CreateJobScreen> {
  final _formKey = GlobalKey<FormState>();
  late final TextEditingController _name = TextEditingController(text: widget.viewModel.initialName);
  late final TextEditingController _bio = TextEditingController(text: widget.viewModel.initialBio);

  @override
  void initState() {
    super.initState();
    widget.viewModel.submit.addListener(_onSubmitResult);
  }

  @override
  void dispose() {
    widget.viewModel.submit.removeListener(_onSubmitResult);
    _name.dispose();
    _bio.dispose();
    super.dispose();
  }

  void _onSubmitResult() {
    final result = widget.viewModel.submit.result;
    if (result == null) return;
    widget.viewModel.submit.clearResult();
    switch (result) {
      case Ok<CreatedJob>(:final value):
        widget.onJobCreated(value.jobId);
      case Err<CreatedJob>(error: AppException(code: 'invalid_input')):
        // The file fields already show what is wrong.
        break;
      case Err<CreatedJob>(:final error):
        final l10n = AppLocalizations.of(context);
        ScaffoldMessenger.of(context).showSnackBar(SnackBar(content: Text(l10n.uploadFailed(errorMessageOf(l10n, error)))));
    }
  }

  void _create() {
    // Check the text fields and the files in one tap, so every problem shows at once.
    final textValid = _formKey.currentState!.validate();
    final filesValid = widget.viewModel.validateFiles();
    if (!textValid || !filesValid) return;
    widget.viewModel.submit.execute(JobDetails(instructorName: _name.text, instructorBio: _bio.text));
  }

  @override
  Widget build(BuildContext context) {
    final viewModel = widget.viewModel;
    final l10n = AppLocalizations.of(context);
    String? problem(UploadProblem? p) => p == null ? null : uploadProblemText(l10n, p);
    return Scaffold(
      appBar: AppBar(
        title: Text(l10n.createTitle),
        actions: [
          if (widget.onOpenHistory != null)
            IconButton(tooltip: l10n.myVideosTitle, icon: const Icon(Icons.history), onPressed: widget.onOpenHistory),
        ],
      ),
      body: ListenableBuilder(
        listenable: Listenable.merge([viewModel, viewModel.submit]),
        builder: (context, _) {
          final uploading = viewModel.submit.running;
          return Form(
            key: _formKey,
            child: ListView(
              padding: const EdgeInsets.all(16),
              children: [
                _FileTile(
                  key: const Key('pick-image'),
                  icon: Icons.photo,
                  emptyLabel: l10n.pickPhoto,
                  file: viewModel.image,
                  error: problem(viewModel.imageError),
                  onTap: uploading ? null : viewModel.pickImage.execute,
                ),
                _FileTile(
                  key: const Key('pick-audio'),
                  icon: Icons.audiotrack,
                  emptyLabel: l10n.pickAudio,
                  file: viewModel.audio,
                  error: problem(viewModel.audioError),
                  onTap: uploading ? null : viewModel.pickAudio.execute,
                ),
                const SizedBox(height: 12),
                TextFormField(
                  key: const Key('instructor-name'),
                  controller: _name,
                  enabled: !uploading,
                  decoration: InputDecoration(labelText: l10n.instructorNameLabel),
                  maxLength: UploadRules.maxNameLength,
                  textInputAction: TextInputAction.next,
                  validator: (value) => problem(UploadRules.validateName(value)),
                ),
                TextFormField(
                  key: const Key('instructor-bio'),
                  controller: _bio,
                  enabled: !uploading,
                  decoration: InputDecoration(labelText: l10n.shortBioLabel),
                  maxLength: UploadRules.maxBioLength,
                  minLines: 2,
                  maxLines: 5,
                  validator: (value) => problem(UploadRules.validateBio(value)),
                ),
                const SizedBox(height: 16),
                if (uploading) ...[
                  LinearProgressIndicator(key: const Key('upload-progress'), value: viewModel.uploadProgress),
                  const SizedBox(height: 8),
                  Text(l10n.uploadingProgress(((viewModel.uploadProgress ?? 0) * 100).round())),
                  const SizedBox(height: 8),
                ],
                FilledButton(
                  key: const Key('create-job'),
                  onPressed: uploading ? null : _create,
                  child: Text(l10n.createButton),
                ),
              ],
            ),
          );
        },
      ),
    );
  }
}

class _FileTile extends StatelessWidget {
  const _FileTile({
    super.key,
    required this.icon,
    required this.emptyLabel,
    required this.file,
    required this.error,
    required this.onTap,
  });

  final IconData icon;
  final String emptyLabel;
  final MediaFile? file;
  final String? error;
  final VoidCallback? onTap;

  @override
  Widget build(BuildContext context) {
    final picked = file;
    return ListTile(
      leading: Icon(icon),
      title: Text(picked == null ? emptyLabel : picked.name),
      subtitle: error != null
          ? Text(error!, style: TextStyle(color: Theme.of(context).colorScheme.error))
          : picked == null
              ? null
              : Text(AppLocalizations.of(context).fileDetails(formatBytes(picked.length), picked.mimeType)),
      trailing: const Icon(Icons.upload_file),
      onTap: onTap,
    );
  }
}
