import 'package:flutter/material.dart';
import 'package:provider/provider.dart';

import '../../data/services/push_service.dart';
import '../../l10n/app_localizations.dart';
import '../../routing/routes.dart';

/// Lives inside the signed-in part of the app: starts push (permission, token registration)
/// and turns a tapped notification into the job's page, and a message that arrives while the
/// app is open into a snackbar with an Open action.
class PushListener extends StatefulWidget {
  const PushListener({super.key, required this.navigatorKey, required this.messengerKey, required this.child});

  final GlobalKey<NavigatorState> navigatorKey;
  final GlobalKey<ScaffoldMessengerState> messengerKey;
  final Widget child;

  @override
  State<PushListener> createState() => _PushListenerState();
}

class _PushListenerState extends State<PushListener> {
  PushService? _push;

  @override
  void initState() {
    super.initState();
    _push = context.read<PushService?>();
    _push?.start(onOpenJob: _openJob, onForeground: _showSnackBar);
  }

  void _openJob(String jobId) {
    widget.navigatorKey.currentState?.pushNamed(Routes.job(jobId));
  }

  void _showSnackBar(JobPush push) {
    final l10n = AppLocalizations.of(context);
    widget.messengerKey.currentState?.showSnackBar(
      SnackBar(
        content: Text(push.body.isEmpty ? push.title : l10n.pushTitleBody(push.title, push.body)),
        action: SnackBarAction(label: l10n.openAction, onPressed: () => _openJob(push.jobId)),
      ),
    );
  }

  @override
  void dispose() {
    _push?.stop();
    super.dispose();
  }

  @override
  Widget build(BuildContext context) => widget.child;
}
