import 'package:flutter/material.dart';
import 'package:video_player/video_player.dart';

import '../../../domain/models/video_source.dart';
import '../../../l10n/app_localizations.dart';

/// Plays the finished video from [source], sending its headers (the bearer token when the
/// backend streams the video itself).
class JobVideoPlayer extends StatefulWidget {
  const JobVideoPlayer({super.key, required this.source});

  final VideoSource source;

  @override
  State<JobVideoPlayer> createState() => _JobVideoPlayerState();
}

class _JobVideoPlayerState extends State<JobVideoPlayer> {
  late VideoPlayerController _controller;
  Object? _error;

  @override
  void initState() {
    super.initState();
    _open();
  }

  @override
  void didUpdateWidget(JobVideoPlayer oldWidget) {
    super.didUpdateWidget(oldWidget);
    if (oldWidget.source.url != widget.source.url) {
      _controller.dispose();
      _open();
    }
  }

  void _open() {
    _error = null;
    _controller = VideoPlayerController.networkUrl(
      widget.source.url,
      httpHeaders: widget.source.headers,
    );
    _controller.initialize().then((_) {
      if (mounted) setState(() {});
    }, onError: (Object error) {
      if (mounted) setState(() => _error = error);
    });
  }

  @override
  void dispose() {
    _controller.dispose();
    super.dispose();
  }

  @override
  Widget build(BuildContext context) {
    final l10n = AppLocalizations.of(context);
    if (_error != null) {
      return Text(l10n.videoCouldNotPlay('$_error'));
    }
    if (!_controller.value.isInitialized) {
      return const AspectRatio(aspectRatio: 16 / 9, child: Center(child: CircularProgressIndicator()));
    }
    return Column(
      children: [
        AspectRatio(aspectRatio: _controller.value.aspectRatio, child: VideoPlayer(_controller)),
        VideoProgressIndicator(_controller, allowScrubbing: true),
        ValueListenableBuilder<VideoPlayerValue>(
          valueListenable: _controller,
          builder: (context, value, _) => IconButton(
            iconSize: 40,
            tooltip: value.isPlaying ? l10n.pauseTooltip : l10n.playTooltip,
            icon: Icon(value.isPlaying ? Icons.pause_circle : Icons.play_circle),
            onPressed: () => value.isPlaying ? _controller.pause() : _controller.play(),
          ),
        ),
      ],
    );
  }
}
