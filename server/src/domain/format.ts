/** A byte count as people read it in messages: megabytes with one decimal, e.g. `10 MB`, `0.5 MB`. */
export function formatBytes(bytes: number): string {
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
