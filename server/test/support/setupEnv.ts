// Google client libraries probe the cloud metadata server unless told not to; tests never
// leave loopback.
process.env.METADATA_SERVER_DETECTION = 'none';
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';
