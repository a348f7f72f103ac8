/**
 * Where the prepared photo of a job is kept: fixed per job, so a retried step reuses it. It sits
 * with the job's uploads, so deleting the job and the uploads' retention (locally and in Cloud
 * Storage's lifecycle rules, by the `uploads/` prefix) take it too.
 */
export function preparedImageKey(jobId: string): string {
  return `uploads/${jobId}/prepared.jpg`;
}
