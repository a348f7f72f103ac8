import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { pageContentSecurityPolicy } from '../securityHeaders';
import type { WatchConfig } from '../../config';
import { STEP_LABELS, STEPS } from '../../domain/steps';
import { clientUploadRules, DEFAULT_UPLOAD_LIMITS, type ClientUploadRules } from '../../domain/uploadRules';
import type { UploadLimits } from '../upload';

/** Options of {@link webRoutes}. */
export interface WebRoutesOptions {
  /** The server's upload limits, which clients check before sending (the defaults for `media` when absent). */
  limits: UploadLimits;
  /** Folder holding index.html, app.js and styles.css; found next to this file by default. */
  staticDir?: string;
  /** How clients follow a job; Server-Sent Events for everyone when absent. */
  watch?: WatchConfig;
  /** Folder holding the Firebase SDK's browser modules; found in node_modules by default. */
  firebaseSdkDir?: string;
}

/** The Firebase JS SDK files the page loads, as the `firebase` package ships them. */
const FIREBASE_MODULES = ['firebase-app.js', 'firebase-auth.js', 'firebase-firestore.js'];

/**
 * Where the Firebase SDK's browser modules are: the `firebase` package in a development
 * install, or vendor/firebase where the Dockerfile copies the three files (the package itself,
 * about 60 MB, stays out of the runtime image).
 */
function findFirebaseSdkDir(): string | undefined {
  const candidates = [path.resolve(process.cwd(), 'vendor', 'firebase'), path.resolve(process.cwd(), 'node_modules', 'firebase')];
  try {
    candidates.push(path.dirname(require.resolve('firebase/package.json')));
  } catch {
    /* not installed */
  }
  return candidates.find((dir) => FIREBASE_MODULES.every((f) => existsSync(path.join(dir, f))));
}

/**
 * The SDK's browser builds import each other by their CDN address (www.gstatic.com); the page
 * may load nothing from elsewhere, so the served copies import their siblings from here.
 */
function loadFirebaseModules(dir: string): Map<string, string> {
  const modules = new Map<string, string>();
  for (const file of FIREBASE_MODULES) {
    const text = readFileSync(path.join(dir, file), 'utf8').replace(/https:\/\/www\.gstatic\.com\/firebasejs\/[^/"']+\//g, './');
    modules.set(file, text.replace(/\n\/\/# sourceMappingURL=.*$/m, ''));
  }
  return modules;
}

/** What GET /config tells clients about following a job. */
export function clientWatchSettings(watch?: WatchConfig): Record<string, unknown> {
  if (!watch) return { watch: { browser: 'sse', cli: 'sse', pollIntervalSec: 10 } };
  const { firebase, ...rest } = watch;
  return { watch: rest, ...(firebase ? { firebase } : {}) };
}

/**
 * What GET /config tells every client about uploads and steps: the limits this server runs
 * with, the accepted types, and the steps in order with their labels. Clients check a file
 * against these before sending it, and show the labels; they keep no copy of their own.
 */
export function clientProductFacts(limits: UploadLimits): { upload: ClientUploadRules; steps: { name: string; label: string }[] } {
  return {
    upload: clientUploadRules({ ...limits, media: limits.media ?? DEFAULT_UPLOAD_LIMITS.media }),
    steps: STEPS.map((name) => ({ name, label: STEP_LABELS[name] })),
  };
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
 * or a shared link opens that job again), `/web/*` its modules and styles; `GET /config` (for
 * every client) the upload rules, the steps and how to watch a job. Every other path falls
 * through to the API.
 */
export function webRoutes(options: WebRoutesOptions): Router {
  const router = Router();
  const dir = options.staticDir ?? findStaticDir();
  const { limits } = options;
  const watchSettings = clientWatchSettings(options.watch);
  const facts = clientProductFacts(limits);
  // Served only when the page is to use them.
  let firebaseModules: Map<string, string> | undefined;
  if (options.watch?.browser === 'firestore') {
    const sdkDir = options.firebaseSdkDir ?? findFirebaseSdkDir();
    if (!sdkDir) throw new Error('The web page follows jobs through Firestore, but the Firebase SDK (npm package firebase) is not installed');
    firebaseModules = loadFirebaseModules(sdkDir);
  }

  // With Firestore watching, the page also talks to Firestore and Firebase Auth (or the emulator).
  const firebaseHosts = options.watch?.firebase
    ? [
        'https://firestore.googleapis.com',
        'https://identitytoolkit.googleapis.com',
        'https://securetoken.googleapis.com',
        ...(options.watch.firebase.config.firestoreEmulatorHost ? [`http://${options.watch.firebase.config.firestoreEmulatorHost}`] : []),
      ]
    : [];

  // For every client (the CLI asks before following a job): how to watch a job here, what an
  // upload must be, and the steps a job goes through.
  router.get('/config', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.json({ success: true, ...watchSettings, ...facts });
  });

  router.get(['/', '/index.html'], pageContentSecurityPolicy(firebaseHosts), (_req, res) => {
    // Always revalidate: the page is tiny and must match the API it talks to.
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(path.join(dir, 'index.html'));
  });
  router.get('/web/vendor/firebase/:file', (req, res, next) => {
    const text = firebaseModules?.get(String(req.params.file));
    if (!text) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('text/javascript').send(text);
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
