import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { pageContentSecurityPolicy } from '../securityHeaders';
import type { UploadLimits } from '../upload';

/** Options of {@link webRoutes}. */
export interface WebRoutesOptions {
  /** The server's upload limits, which the page checks before sending. */
  limits: Pick<UploadLimits, 'imageMaxBytes' | 'audioMaxBytes' | 'nameMaxChars' | 'bioMaxChars'>;
  /** Folder holding index.html, app.js and styles.css; found next to this file by default. */
  staticDir?: string;
}

/**
 * Where the page's files are. They are plain files, not TypeScript, so `tsc` does not copy them
 * into dist/: a compiled build looks for them back in the source tree too.
 */
function findStaticDir(): string {
  const candidates = [
    path.resolve(__dirname, '..', 'web'),
    path.resolve(__dirname, '..', '..', '..', '..', '..', 'server', 'src', 'http', 'web'),
    path.resolve(process.cwd(), 'server', 'src', 'http', 'web'),
  ];
  return candidates.find((dir) => existsSync(path.join(dir, 'index.html'))) ?? candidates[0]!;
}

/**
 * The web page: `GET /` is the single page (a job's own URL is `/?job=<jobId>`, so a reload
 * or a shared link opens that job again), `/web/*` its script and styles, and
 * `/web/config.json` the limits the page checks before uploading. Every other path falls
 * through to the API.
 */
export function webRoutes(options: WebRoutesOptions): Router {
  const router = Router();
  const dir = options.staticDir ?? findStaticDir();
  const { limits } = options;
  const config = {
    imageMaxBytes: limits.imageMaxBytes,
    audioMaxBytes: limits.audioMaxBytes,
    nameMaxChars: limits.nameMaxChars,
    bioMaxChars: limits.bioMaxChars,
  };

  router.get(['/', '/index.html'], pageContentSecurityPolicy(), (_req, res) => {
    // Always revalidate: the page is tiny and must match the API it talks to.
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(dir, 'index.html'));
  });
  router.get('/web/config.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json(config);
  });
  router.use(
    '/web',
    express.static(dir, {
      index: false,
      fallthrough: true,
      setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
    }),
  );
  return router;
}
