/**
 * Where a job's files are kept in our BlobStore. The `uploads/` and `videos/` prefixes are also
 * what Cloud Storage's lifecycle rules (infra/deploy.sh) and the local retention sweep act on.
 */

/** An upload of a job (`ext` from the type sniffed from its bytes). */
export function uploadKey(jobId: string, field: 'image' | 'audio', ext: string): string {
  return `uploads/${jobId}/${field}.${ext}`;
}

/**
 * The prepared photo of a job: fixed per job, so a retried step reuses it. It sits with the
 * job's uploads, so deleting the job and the uploads' retention take it too.
 */
export function preparedImageKey(jobId: string): string {
  return `uploads/${jobId}/prepared.jpg`;
}

/** The finished video of a job. */
export function videoKey(jobId: string): string {
  return `videos/${jobId}.mp4`;
}
