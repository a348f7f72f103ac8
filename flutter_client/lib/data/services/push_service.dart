import 'dart:async';

import 'package:firebase_messaging/firebase_messaging.dart';
import 'package:flutter/foundation.dart';

import 'jobs_api_client.dart';

/// A push the backend sent when a job ended: its text and the job it is about.
class JobPush {
  const JobPush({required this.jobId, required this.title, required this.body});

  final String jobId;
  final String title;
  final String body;

  /// Reads the backend's message (`data.jobId`, `data.link` = `/jobs/<jobId>`); null when it is
  /// not about a job.
  static JobPush? fromMessage(RemoteMessage message) {
    final jobId = message.data['jobId'];
    if (jobId is! String || jobId.isEmpty) return null;
    return JobPush(
      jobId: jobId,
      title: message.notification?.title ?? 'Your video job ended',
      body: message.notification?.body ?? '',
    );
  }
}

/// Firebase Cloud Messaging: asks for permission, registers this device's token with the
/// backend (`POST /devices`, again whenever FCM rotates it), and reports taps on a
/// notification (app in the background or closed) and messages that arrive while the app is
/// open.
class PushService {
  PushService({required JobsApiClient api, FirebaseMessaging? messaging})
      : _api = api,
        _messaging = messaging ?? FirebaseMessaging.instance;

  final JobsApiClient _api;
  final FirebaseMessaging _messaging;
  final List<StreamSubscription<Object?>> _subscriptions = [];

  static String get platform => kIsWeb
      ? 'web'
      : switch (defaultTargetPlatform) {
          TargetPlatform.iOS || TargetPlatform.macOS => 'ios',
          _ => 'android',
        };

  /// Starts once the user is signed in (the token is registered for them).
  Future<void> start({
    required void Function(String jobId) onOpenJob,
    required void Function(JobPush push) onForeground,
  }) async {
    final settings = await _messaging.requestPermission(alert: true, badge: true, sound: true);
    if (settings.authorizationStatus == AuthorizationStatus.denied) return;

    final token = await _messaging.getToken();
    if (token != null) await _api.registerDevice(token: token, platform: platform);
    _subscriptions.add(_messaging.onTokenRefresh.listen((token) {
      _api.registerDevice(token: token, platform: platform);
    }));

    // A tap that launched the app from a closed state, then taps while it runs in the background.
    final initial = await _messaging.getInitialMessage();
    final initialPush = initial == null ? null : JobPush.fromMessage(initial);
    if (initialPush != null) onOpenJob(initialPush.jobId);
    _subscriptions.add(FirebaseMessaging.onMessageOpenedApp.listen((message) {
      final push = JobPush.fromMessage(message);
      if (push != null) onOpenJob(push.jobId);
    }));
    // In the foreground the system shows nothing: the app shows a snackbar instead.
    _subscriptions.add(FirebaseMessaging.onMessage.listen((message) {
      final push = JobPush.fromMessage(message);
      if (push != null) onForeground(push);
    }));
  }

  Future<void> stop() async {
    for (final s in _subscriptions) {
      await s.cancel();
    }
    _subscriptions.clear();
  }
}
