/* Numbers and names as the page shows them. */

/**
 * A byte count as the server says it in messages (server/src/domain/format.ts, which a test
 * checks this against): `512 B`, `12 KB`, `10 MB`, `1.3 MB`.
 */
export function formatBytes(bytes) {
  if (bytes < 1024) return bytes + ' B';
  if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + ' KB';
  return Math.round((bytes / (1024 * 1024)) * 10) / 10 + ' MB';
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = function (n) {
    return String(n).padStart(2, '0');
  };
  return h > 0 ? h + ':' + two(m) + ':' + two(s) : m + ':' + two(s);
}

export function extensionOf(name) {
  const dot = name.lastIndexOf('.');
  return dot >= 0 ? name.slice(dot + 1).toLowerCase() : '';
}
