import 'package:flutter/material.dart';

import '../../../domain/models/app_exception.dart';
import '../../../domain/models/created_job.dart';
import '../../../domain/models/media_file.dart';
import '../../../domain/models/upload_rules.dart';
import '../../../utils/format.dart';
import '../../../utils/result.dart';
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
        final message = error is AppException ? error.message : '$error';
        ScaffoldMessenger.of(context).showSnackBar(SnackBar(content: Text('Upload failed: $message')));
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
    return Scaffold(
      appBar: AppBar(
        title: const Text('New avatar video'),
        actions: [
          if (widget.onOpenHistory != null)
            IconButton(tooltip: 'My videos', icon: const Icon(Icons.history), onPressed: widget.onOpenHistory),
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
                  emptyLabel: 'Pick a photo',
                  file: viewModel.image,
                  error: viewModel.imageError,
                  onTap: uploading ? null : viewModel.pickImage.execute,
                ),
                _FileTile(
                  key: const Key('pick-audio'),
                  icon: Icons.audiotrack,
                  emptyLabel: 'Pick an audio file (MP3, WAV, M4A)',
                  file: viewModel.audio,
                  error: viewModel.audioError,
                  onTap: uploading ? null : viewModel.pickAudio.execute,
                ),
                const SizedBox(height: 12),
                TextFormField(
                  key: const Key('instructor-name'),
                  controller: _name,
                  enabled: !uploading,
                  decoration: const InputDecoration(labelText: 'Instructor name'),
                  maxLength: UploadRules.maxNameLength,
                  textInputAction: TextInputAction.next,
                  validator: UploadRules.validateName,
                ),
                TextFormField(
                  key: const Key('instructor-bio'),
                  controller: _bio,
                  enabled: !uploading,
                  decoration: const InputDecoration(labelText: 'Short bio'),
                  maxLength: UploadRules.maxBioLength,
                  minLines: 2,
                  maxLines: 5,
                  validator: UploadRules.validateBio,
                ),
                const SizedBox(height: 16),
                if (uploading) ...[
                  LinearProgressIndicator(key: const Key('upload-progress'), value: viewModel.uploadProgress),
                  const SizedBox(height: 8),
                  Text('Uploading… ${((viewModel.uploadProgress ?? 0) * 100).round()}%'),
                  const SizedBox(height: 8),
                ],
                FilledButton(
                  key: const Key('create-job'),
                  onPressed: uploading ? null : _create,
                  child: const Text('Create'),
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
              : Text('${formatBytes(picked.length)} · ${picked.mimeType}'),
      trailing: const Icon(Icons.upload_file),
      onTap: onTap,
    );
  }
}
