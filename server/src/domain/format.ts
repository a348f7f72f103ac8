/**
 * A byte count as people read it in messages: bytes below a kilobyte, whole kilobytes below a
 * megabyte, then megabytes with one decimal (`512 B`, `12 KB`, `10 MB`, `1.3 MB`). The web page
 * keeps a browser copy (http/web/format.mjs), checked against this one by a test.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
}
