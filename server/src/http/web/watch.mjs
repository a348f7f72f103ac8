/*
 * Following one job live: the event stream (EventSource, or fetch when a token must be sent),
 * or in the cloud a Firestore listener on the job document.
 */
import { ApiError, api, authHeaders, authToken } from './api.mjs';
import { TERMINAL, server } from './settings.mjs';

/**
 * Follows GET /jobs/:id/events. Without a token the browser's EventSource does the work
 * (it reconnects by itself); EventSource cannot send headers, so with a token the stream is
 * read through fetch and parsed here. Returns a function that stops watching.
 */
export function watchJob(jobId, handlers) {
  if (server.firebase && server.watch && server.watch.browser === 'firestore') {
    return watchJobInFirestore(jobId, server.firebase, handlers, function () {
      return watchJobStream(jobId, handlers);
    });
  }
  return watchJobStream(jobId, handlers);
}

/** The Firebase SDK's Firestore and the database, set up once per page. */
let firestoreReady = null;

function openFirestore(firebase, ownerUid) {
  firestoreReady =
    firestoreReady ||
    (async function () {
      // Served from this site (routes/web.ts): the page loads nothing from elsewhere.
      const base = '/web/vendor/firebase/';
      const sdk = await Promise.all([import(base + 'firebase-app.js'), import(base + 'firebase-auth.js'), import(base + 'firebase-firestore.js')]);
      const appSdk = sdk[0];
      const authSdk = sdk[1];
      const fs = sdk[2];
      const config = Object.assign({}, firebase.config);
      const emulatorHost = config.firestoreEmulatorHost;
      delete config.firestoreEmulatorHost;
      const app = appSdk.initializeApp(config);
      const db = fs.getFirestore(app);
      if (emulatorHost) {
        // The emulator takes an unsigned token naming the user; its rules still decide.
        const cut = emulatorHost.lastIndexOf(':');
        fs.connectFirestoreEmulator(db, emulatorHost.slice(0, cut), Number(emulatorHost.slice(cut + 1)), { mockUserToken: { sub: ownerUid } });
      } else {
        const auth = authSdk.getAuth(app);
        await auth.authStateReady();
        if (!auth.currentUser) throw new Error('not signed in to Firebase');
      }
      return { fs: fs, db: db };
    })();
  return firestoreReady;
}

/** A job document as Firestore holds it, in the API's shape: ISO dates, absolute video URL. */
function fromFirestore(value) {
  if (value && typeof value.toDate === 'function') return value.toDate().toISOString();
  if (Array.isArray(value)) return value.map(fromFirestore);
  if (value && typeof value === 'object') {
    const out = {};
    Object.keys(value).forEach(function (key) {
      out[key] = fromFirestore(value[key]);
    });
    return out;
  }
  return value;
}

/**
 * In the cloud the page follows the job document through a Firestore listener, like the
 * Flutter app: no api request stays open (and billed) while someone watches. Firestore's rules
 * let only the owner read it, so the page needs this site's signed-in Firebase user; without
 * one, or when the listener is refused, it falls back to the event stream.
 */
function watchJobInFirestore(jobId, firebase, handlers, fallback) {
  let stopped = false;
  let unsubscribe = null;
  let stopFallback = null;
  function useFallback() {
    if (stopped || stopFallback) return;
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
    stopFallback = fallback();
  }
  (async function () {
    try {
      // The owner, for the emulator's token; a 404 here means the job is not ours to watch.
      const first = await api('/jobs/' + encodeURIComponent(jobId));
      const store = await openFirestore(firebase, first.ownerUid);
      if (stopped) return;
      unsubscribe = store.fs.onSnapshot(
        store.fs.doc(store.db, firebase.collection, jobId),
        function (snap) {
          if (stopped) return;
          if (!snap.exists()) {
            handlers.onFatal();
            return;
          }
          handlers.onConnection(true);
          const job = fromFirestore(snap.data());
          if (job.result && job.result.videoUrl && !/^https?:/i.test(job.result.videoUrl)) {
            job.result.videoUrl = new URL(job.result.videoUrl, location.origin + '/').toString();
          }
          window.__jobWatch = 'firestore';
          handlers.onJob(job);
          if (TERMINAL.indexOf(job.status) >= 0) {
            stopped = true;
            unsubscribe();
            handlers.onEnd();
          }
        },
        useFallback,
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) handlers.onFatal();
      else useFallback();
    }
  })();
  return function () {
    stopped = true;
    if (unsubscribe) unsubscribe();
    if (stopFallback) stopFallback();
  };
}

function watchJobStream(jobId, handlers) {
  const url = '/jobs/' + encodeURIComponent(jobId) + '/events';
  window.__jobWatch = 'sse';
  if (!authToken() && 'EventSource' in window) {
    const source = new EventSource(url);
    let ended = false;
    // The server is restarting: the stream closes and EventSource reconnects after the
    // server's retry hint. A planned reconnect is not a lost connection.
    let planned = false;
    source.addEventListener('reconnect', function () {
      planned = true;
    });
    source.addEventListener('job', function (e) {
      handlers.onJob(JSON.parse(e.data));
    });
    source.addEventListener('end', function () {
      ended = true;
      source.close();
      handlers.onEnd();
    });
    source.onopen = function () {
      planned = false;
      handlers.onConnection(true);
    };
    source.onerror = function () {
      if (ended) return;
      // CLOSED: the server refused the stream (404, 401); otherwise it is reconnecting.
      if (source.readyState === EventSource.CLOSED) handlers.onFatal();
      else if (!planned) handlers.onConnection(false);
    };
    return function () {
      ended = true;
      source.close();
    };
  }
  return watchWithFetch(url, handlers);
}

function watchWithFetch(url, handlers) {
  let stopped = false;
  let controller = null;
  // Set by a `reconnect` event (the server is restarting): reconnect after its hint, quietly.
  let retryMs = null;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch(url, { headers: Object.assign({ Accept: 'text/event-stream' }, authHeaders()), signal: controller.signal });
        if (!res.ok) {
          handlers.onFatal();
          return;
        }
        handlers.onConnection(true);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true });
          let cut;
          while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
            let event = 'message';
            const data = [];
            block.split(/\r?\n/).forEach(function (line) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            });
            if (event === 'job' && data.length) handlers.onJob(JSON.parse(data.join('\n')));
            if (event === 'reconnect' && data.length) retryMs = JSON.parse(data.join('\n')).retryMs;
            if (event === 'end') {
              stopped = true;
              handlers.onEnd();
              return;
            }
          }
        }
      } catch (err) {
        if (stopped) return;
      }
      if (!stopped) {
        const wait = retryMs === null ? 3000 : retryMs;
        if (retryMs === null) handlers.onConnection(false);
        retryMs = null;
        await new Promise(function (r) {
          setTimeout(r, wait);
        });
      }
    }
  }
  run();
  return function () {
    stopped = true;
    if (controller) controller.abort();
  };
}
