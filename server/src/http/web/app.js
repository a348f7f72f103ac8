/*
 * The avatar video page: plain JavaScript, no framework, no build step; a native ES module
 * (no inline script, so a strict Content-Security-Policy holds).
 *
 * Views: "/" shows the form, "/?job=<jobId>" shows one job live (a reload or a shared link opens
 * it again). Both show the caller's recent jobs. Locally the caller is the default user; when a
 * token is stored in localStorage.idToken (a Firebase ID token in the cloud), every request
 * carries it as a Bearer token.
 *
 * The words come from messages.mjs, in the browser's language (Korean or English).
 */
import { pickLanguage, translator } from './messages.mjs';
import { describeRemaining, estimateRemainingMs } from './eta.mjs';

(function () {
  'use strict';

  // ---------------------------------------------------------------- settings

  /** Replaced by /web/config.json: the server's own limits. */
  const limits = {
    imageMaxBytes: 10 * 1024 * 1024,
    audioMaxBytes: 30 * 1024 * 1024,
    nameMaxChars: 100,
    bioMaxChars: 1000,
  };

  const t = translator(pickLanguage(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]));

  const STEPS = ['avatar.create', 'video.create', 'video.poll', 'video.store'];
  const stepLabel = function (step) {
    return t('step.' + step);
  };
  const TERMINAL = ['completed', 'failed', 'cancelled'];

  // The types the server accepts (VisionStory's list). The browser's idea of a file's type
  // comes from its name; the server decides from the first bytes and has the last word.
  const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif'];
  const IMAGE_EXTS = ['jpg', 'jpeg', 'png', 'webp', 'heic', 'heif'];
  const AUDIO_TYPES = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/mpeg', 'audio/mp3', 'audio/mp4', 'audio/x-m4a', 'audio/m4a', 'audio/aac', 'audio/x-aac'];
  const AUDIO_EXTS = ['wav', 'mp3', 'm4a', 'aac'];

  // ---------------------------------------------------------------- API layer

  /** The stored sign-in token, if any (see the file comment). */
  function authToken() {
    try {
      return window.localStorage.getItem('idToken') || '';
    } catch (_) {
      return ''; // storage disabled: behave as the local default user
    }
  }

  function authHeaders() {
    const token = authToken();
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  /** An error answer of the API: {success:false, error:{code, message}}. */
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function apiErrorFrom(status, text) {
    try {
      const body = JSON.parse(text);
      if (body && body.error && body.error.message) return new ApiError(status, body.error.code || 'error', body.error.message);
    } catch (_) {
      /* not JSON: fall through */
    }
    return new ApiError(status, 'http_' + status, 'The server answered ' + status + (text ? ': ' + text.slice(0, 200) : ''));
  }

  async function api(path, options) {
    const opts = options || {};
    let res;
    try {
      res = await fetch(path, {
        method: opts.method || 'GET',
        headers: Object.assign({ Accept: 'application/json' }, authHeaders(), opts.headers || {}),
        body: opts.body,
      });
    } catch (err) {
      throw new ApiError(0, 'network', '');
    }
    const text = await res.text();
    if (!res.ok) throw apiErrorFrom(res.status, text);
    return text ? JSON.parse(text) : null;
  }

  /**
   * POST /generate-with-tasks with an upload progress callback (fetch cannot report one).
   * Returns the answer's promise and a function that stops the upload (XHR abort): the server
   * sees the request end early and keeps nothing.
   */
  function uploadJob(form, onProgress) {
    const xhr = new XMLHttpRequest();
    const promise = new Promise(function (resolve, reject) {
      xhr.open('POST', '/generate-with-tasks');
      xhr.setRequestHeader('Accept', 'application/json');
      const headers = authHeaders();
      Object.keys(headers).forEach(function (k) {
        xhr.setRequestHeader(k, headers[k]);
      });
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) onProgress(e.loaded, e.total);
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          try {
            resolve(JSON.parse(xhr.responseText));
          } catch (err) {
            reject(new ApiError(xhr.status, 'bad_answer', 'The server answered something unexpected'));
          }
        } else {
          reject(apiErrorFrom(xhr.status, xhr.responseText));
        }
      };
      xhr.onerror = function () {
        reject(new ApiError(0, 'network', ''));
      };
      xhr.onabort = function () {
        reject(new ApiError(0, 'aborted', ''));
      };
      xhr.send(form);
    });
    return {
      promise: promise,
      abort: function () {
        xhr.abort();
      },
    };
  }

  /**
   * Follows GET /jobs/:id/events. Without a token the browser's EventSource does the work
   * (it reconnects by itself); EventSource cannot send headers, so with a token the stream is
   * read through fetch and parsed here. Returns a function that stops watching.
   */
  function watchJob(jobId, handlers) {
    if (limits.firebase && limits.watch && limits.watch.browser === 'firestore') {
      return watchJobInFirestore(jobId, limits.firebase, handlers, function () {
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

  // ---------------------------------------------------------------- helpers

  const $ = function (id) {
    return document.getElementById(id);
  };

  function formatBytes(bytes) {
    if (bytes >= 1024 * 1024) return Math.round((bytes / (1024 * 1024)) * 10) / 10 + ' MB';
    if (bytes >= 1024) return Math.round(bytes / 1024) + ' KB';
    return bytes + ' bytes';
  }

  function formatDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const two = function (n) {
      return String(n).padStart(2, '0');
    };
    return h > 0 ? h + ':' + two(m) + ':' + two(s) : m + ':' + two(s);
  }

  function extensionOf(name) {
    const dot = name.lastIndexOf('.');
    return dot >= 0 ? name.slice(dot + 1).toLowerCase() : '';
  }

  function showError(id, message) {
    const el = $(id);
    el.textContent = message || '';
    el.hidden = !message;
  }

  /**
   * An error in plain words and what to do next, from its stable code. The server's own message
   * is used (English pages only) for refusals of what the user sent (4xx), which name the field;
   * a failed job's message may carry the provider's or ffmpeg's internals, so it is not shown
   * when the code is known.
   */
  function plainError(code, serverMessage, status) {
    const known = t.error(code);
    const ownWords = t.lang === 'en' && status >= 400 && status < 500 && serverMessage;
    const text = ownWords ? serverMessage : known ? known.text : serverMessage || t.error('unknown').text;
    const next = known ? known.next : t.error(codeForStatus(status)).next;
    return { text: sentence(text), next: next };
  }

  /** For a code this page does not know, a known one with the same meaning, by HTTP status. */
  function codeForStatus(status) {
    if (status === 401 || status === 403) return 'missing_token';
    if (status === 404) return 'not_found';
    if (status === 413 || status === 415) return 'file_too_large';
    if (status === 429) return 'too_many_active_jobs';
    if (status === 503 || status === 0) return 'network';
    return 'unknown';
  }

  /** Server messages have no final stop; the page's sentences do. */
  function sentence(text) {
    const trimmed = String(text || '').trim();
    return /[.!?。]$/.test(trimmed) ? trimmed : trimmed + '.';
  }

  /** "What happened. What to do: …" as one sentence pair. */
  function sayError(code, serverMessage, status) {
    const plain = plainError(code, serverMessage, status);
    return plain.text + ' ' + t('job.next', { next: plain.next });
  }

  // ---------------------------------------------------------------- the form

  /** The same checks the server makes, said in the same words; null when the file is fine. */
  function checkFile(file, kind) {
    const isImage = kind === 'image';
    if (!file) return t(isImage ? 'check.choosePhoto' : 'check.chooseAudio');
    if (file.size === 0) return t(isImage ? 'check.emptyPhoto' : 'check.emptyAudio');
    const types = isImage ? IMAGE_TYPES : AUDIO_TYPES;
    const exts = isImage ? IMAGE_EXTS : AUDIO_EXTS;
    const typeOk = file.type ? types.indexOf(file.type.toLowerCase()) >= 0 : false;
    const extOk = exts.indexOf(extensionOf(file.name)) >= 0;
    if (!typeOk && !extOk) {
      return t(isImage ? 'check.typePhoto' : 'check.typeAudio');
    }
    const max = isImage ? limits.imageMaxBytes : limits.audioMaxBytes;
    if (file.size > max) return t(isImage ? 'check.bigPhoto' : 'check.bigAudio', { size: formatBytes(max) });
    return null;
  }

  function checkName() {
    const name = $('name').value.trim();
    if (!name) return t('check.name');
    if (name.length > limits.nameMaxChars) return t('check.nameLong', { n: limits.nameMaxChars });
    return null;
  }

  function checkBio() {
    return $('bio').value.trim().length > limits.bioMaxChars ? t('check.bioLong', { n: limits.bioMaxChars }) : null;
  }

  function setFieldProblem(field, problem) {
    showError(field + '-error', problem);
    $(field).setAttribute('aria-invalid', problem ? 'true' : 'false');
  }

  /**
   * Once a field shows a problem, it is checked again as it changes, and the message goes as
   * soon as the field is right. A field without a message is not nagged while being typed.
   */
  function recheckField(field) {
    if ($(field + '-error').hidden && $(field).getAttribute('aria-invalid') !== 'true') return;
    const problem = field === 'name' ? checkName() : field === 'bio' ? checkBio() : checkFile($(field).files[0], field);
    setFieldProblem(field, problem);
  }

  /** Object URLs of the previews, revoked when the choice changes. */
  const previews = { image: null, audio: null };

  /** Shows the chosen photo and a player for the chosen recording, before anything is sent. */
  function showPreview(kind) {
    const file = $(kind).files[0];
    const el = $(kind + '-preview');
    if (previews[kind]) URL.revokeObjectURL(previews[kind]);
    previews[kind] = null;
    if (!file || checkFile(file, kind)) {
      el.removeAttribute('src');
      el.hidden = true;
      return;
    }
    previews[kind] = URL.createObjectURL(file);
    el.src = previews[kind];
    el.hidden = false;
  }

  /** Whether a dropped file is a photo or a recording, by its type or name. */
  function kindOfFile(file) {
    const type = (file.type || '').toLowerCase();
    const ext = extensionOf(file.name);
    if (IMAGE_TYPES.indexOf(type) >= 0 || IMAGE_EXTS.indexOf(ext) >= 0 || type.startsWith('image/')) return 'image';
    if (AUDIO_TYPES.indexOf(type) >= 0 || AUDIO_EXTS.indexOf(ext) >= 0 || type.startsWith('audio/')) return 'audio';
    return null;
  }

  /** Files dropped onto the form go into the photo and recording fields. */
  function onDrop(event) {
    event.preventDefault();
    $('create-form').classList.remove('is-dragover');
    if (uploading) return;
    const files = Array.prototype.slice.call((event.dataTransfer && event.dataTransfer.files) || []);
    files.forEach(function (file) {
      const kind = kindOfFile(file);
      if (!kind) return;
      const list = new DataTransfer();
      list.items.add(file);
      $(kind).files = list.files;
      $(kind).dispatchEvent(new Event('change', { bubbles: true }));
    });
  }

  function validateForm() {
    const problems = [];
    const image = $('image').files[0];
    const audio = $('audio').files[0];
    const imageProblem = checkFile(image, 'image');
    const audioProblem = checkFile(audio, 'audio');
    const nameProblem = checkName();
    const bioProblem = checkBio();
    [
      ['image', imageProblem],
      ['audio', audioProblem],
      ['name', nameProblem],
      ['bio', bioProblem],
    ].forEach(function (pair) {
      setFieldProblem(pair[0], pair[1]);
      if (pair[1]) problems.push(pair[0]);
    });
    return problems;
  }

  /** Where to show an error the server gave for the upload. */
  function fieldOfServerError(err) {
    const m = err.message || '';
    if (/\bimage\b/i.test(m)) return 'image';
    if (/\baudio\b/i.test(m)) return 'audio';
    if (/instructorName/.test(m)) return 'name';
    if (/instructorBio/.test(m)) return 'bio';
    return null;
  }

  let uploading = false;
  let stopUpload = null;

  async function onSubmit(event) {
    event.preventDefault();
    if (uploading) return;
    showError('form-error', null);
    showError('form-note', null);
    const problems = validateForm();
    if (problems.length) {
      $(problems[0]).focus();
      return;
    }
    const form = new FormData();
    form.append('instructorName', $('name').value.trim());
    form.append('instructorBio', $('bio').value.trim());
    form.append('image', $('image').files[0]);
    form.append('audio', $('audio').files[0]);

    uploading = true;
    $('submit').disabled = true;
    $('submit').textContent = t('form.uploading');
    $('upload').hidden = false;
    setUploadProgress(0);
    const upload = uploadJob(form, function (loaded, total) {
      setUploadProgress(total ? Math.floor((loaded / total) * 100) : 0);
    });
    stopUpload = upload.abort;
    try {
      const answer = await upload.promise;
      setUploadProgress(100);
      navigate('?job=' + encodeURIComponent(answer.jobId));
      loadRecent();
    } catch (err) {
      if (err.code === 'aborted') {
        showError('form-note', t('form.uploadStopped'));
        $('submit').focus();
      } else {
        const plain = plainError(err.code, err.message, err.status);
        const field = fieldOfServerError(err);
        if (field) setFieldProblem(field, plain.text);
        showError('form-error', t('form.refused') + ' ' + plain.text + ' ' + t('job.next', { next: plain.next }));
        $('form-error').focus();
      }
    } finally {
      uploading = false;
      stopUpload = null;
      $('submit').disabled = false;
      $('submit').textContent = t('form.submit');
      $('upload').hidden = true;
    }
  }

  function setUploadProgress(percent) {
    $('upload-bar').value = percent;
    $('upload-text').textContent = percent + '%';
  }

  // ---------------------------------------------------------------- the job view

  const view = {
    jobId: null,
    job: null,
    stopWatching: null,
    timer: null,
    lastAnnounced: '',
    videoObjectUrl: null,
    /** (updatedAt, percent) while the provider works: the basis of the time-left estimate. */
    samples: [],
    /** When (page clock) the last sample arrived. */
    lastSampleSeenAt: 0,
  };

  function stopJobView() {
    if (view.stopWatching) view.stopWatching();
    view.stopWatching = null;
    if (view.timer) clearInterval(view.timer);
    view.timer = null;
    if (view.videoObjectUrl) URL.revokeObjectURL(view.videoObjectUrl);
    view.videoObjectUrl = null;
    view.job = null;
    view.jobId = null;
    view.lastAnnounced = '';
    view.samples = [];
  }

  function openJob(jobId) {
    stopJobView();
    view.jobId = jobId;
    $('create').hidden = true;
    $('job').hidden = false;
    $('job-id').textContent = jobId;
    $('job-created').textContent = '';
    $('job-progress').hidden = false;
    $('job-failure').classList.remove('is-cancelled');
    $('job-message').hidden = false;
    $('job-title').textContent = t('job.title');
    $('job-result').hidden = true;
    $('job-download').hidden = true;
    $('job-failure').hidden = true;
    $('job-video').removeAttribute('src');
    $('job-message').textContent = t('job.connecting');
    $('job-connection').hidden = true;
    $('job-eta').textContent = t('eta.none');
    $('cancel').hidden = false;
    $('cancel').disabled = false;
    $('cancel').textContent = t('job.cancel');
    $('retry').hidden = true;
    $('retry').disabled = false;
    $('retry').textContent = t('job.retry');
    $('new-video').hidden = true;
    renderProgress(null);
    highlightRecent();
    view.timer = setInterval(renderElapsed, 1000);
    view.stopWatching = watchJob(jobId, {
      onJob: function (job) {
        if (view.jobId !== jobId) return;
        view.job = job;
        renderJob(job);
      },
      onEnd: async function () {
        if (view.jobId === jobId) loadRecent();
        // The retention dates are stamped just after the last snapshot: read them once more,
        // and again a little later if the stamp has not landed yet.
        for (let attempt = 0; attempt < 4 && view.jobId === jobId; attempt += 1) {
          try {
            const job = await api('/jobs/' + encodeURIComponent(jobId));
            if (view.jobId === jobId) renderExpiry(job);
            if (!job.result || job.result.expiresAt) break;
          } catch (err) {
            break; /* the page still shows the job as it ended */
          }
          await new Promise(function (resolve) { setTimeout(resolve, 500 * (attempt + 1)); });
        }
      },
      onConnection: function (ok) {
        if (view.jobId !== jobId) return;
        $('job-connection').hidden = ok;
        $('job-connection').textContent = ok ? '' : t('job.reconnecting');
      },
      onFatal: async function () {
        if (view.jobId !== jobId) return;
        // The stream was refused: ask once more to learn why (not found, not signed in).
        try {
          const job = await api('/jobs/' + encodeURIComponent(jobId));
          view.job = job;
          renderJob(job);
        } catch (err) {
          showJobProblem(err.status === 404 ? t('job.notYours', { id: jobId }) + ' ' + t('job.next', { next: t.error('job_not_found').next }) : sayError(err.code, err.message, err.status));
        }
      },
    });
    $('job-title').focus();
  }

  function showJobProblem(text) {
    $('job-status').textContent = t('status.unknown');
    $('job-status').dataset.status = 'failed';
    $('job-failure-title').textContent = t('job.problemTitle');
    $('job-error').textContent = text;
    $('job-next').textContent = '';
    $('job-failure').hidden = false;
    $('job-progress').hidden = true;
    $('job-message').hidden = true;
    $('cancel').hidden = true;
    $('new-video').hidden = false;
    if (view.timer) clearInterval(view.timer);
  }

  function renderProgress(job) {
    const status = job ? job.status : 'queued';
    const current = job ? job.progress.currentStep : 'avatar.create';
    const currentIndex = current === 'done' ? STEPS.length : STEPS.indexOf(current);
    document.querySelectorAll('#steps li').forEach(function (li, i) {
      li.removeAttribute('aria-current');
      let state = 'pending';
      if (status === 'completed' || i < currentIndex) state = 'done';
      else if (i === currentIndex) {
        if (status === 'failed') state = 'failed';
        else if (status === 'cancelled') state = 'stopped';
        else {
          state = 'current';
          li.setAttribute('aria-current', 'step');
        }
      }
      li.dataset.state = state;
      const label = stepLabel(li.dataset.step);
      li.textContent = label;
      li.setAttribute('aria-label', state === 'pending' ? label : label + ' ' + t('stepState.' + state));
    });
    const percent = job ? Math.max(0, Math.min(100, Math.round(job.progress.percent))) : 0;
    $('job-bar').value = percent;
    $('job-percent').textContent = percent + '%';
    $('job-status').textContent = t('status.' + status);
    $('job-status').dataset.status = status;
  }

  function renderElapsed() {
    const job = view.job;
    if (!job) return;
    const start = Date.parse(job.createdAt);
    const end = TERMINAL.indexOf(job.status) >= 0 ? Date.parse(job.completedAt || job.updatedAt) : Date.now();
    $('job-elapsed').textContent = formatDuration(end - start);
    renderEta();
  }

  /** Keeps the reports made while the provider works, for the estimate. */
  function recordSample(job) {
    if (job.status !== 'processing' || job.progress.currentStep !== 'video.poll') return;
    const atMs = Date.parse(job.updatedAt);
    const last = view.samples[view.samples.length - 1];
    if (last && last.atMs === atMs) return;
    view.samples.push({ atMs: atMs, percent: job.progress.percent });
  }

  function renderEta() {
    const job = view.job;
    if (!job) return;
    if (job.status === 'queued' || (job.status === 'processing' && job.progress.currentStep !== 'video.poll' && job.progress.currentStep !== 'video.store')) {
      $('job-eta').textContent = t('eta.estimating');
      return;
    }
    if (job.status !== 'processing') {
      $('job-eta').textContent = t('eta.none');
      return;
    }
    if (job.progress.currentStep === 'video.store') {
      $('job-eta').textContent = t('eta.lessThanMinute');
      return;
    }
    // The server's clock: the samples are its updatedAt stamps; the page clock only adds the
    // time since the last one arrived.
    const last = view.samples[view.samples.length - 1];
    const now = last ? last.atMs + (Date.now() - view.lastSampleSeenAt) : Date.now();
    $('job-eta').textContent = describeRemaining(estimateRemainingMs(view.samples, now), t);
  }

  function renderJob(job) {
    const before = view.samples.length;
    recordSample(job);
    if (view.samples.length !== before) view.lastSampleSeenAt = Date.now();
    renderProgress(job);
    renderElapsed();
    $('job-title').textContent = job.input.instructorName ? t('job.titleFor', { name: job.input.instructorName }) : t('job.title');
    $('job-created').textContent = t('job.started', { when: new Date(job.createdAt).toLocaleString(t.lang) });
    const p = job.provider || {};
    $('job-provider').textContent = (p.name || '–') + (p.providerStatus ? ' · ' + p.providerStatus : '') + (p.polls ? ' · ' + (p.polls === 1 ? t('job.check') : t('job.checks', { n: p.polls })) : '');
    const terminal = TERMINAL.indexOf(job.status) >= 0;
    $('job-message').textContent = progressMessage(job);
    // A failed or cancelled job's last message is what the box below says in plain words.
    $('job-message').hidden = job.status === 'failed' || job.status === 'cancelled';
    $('job-failure').classList.toggle('is-cancelled', job.status === 'cancelled');
    updateRecentItem(job);
    announce(job);

    $('cancel').hidden = terminal;
    if (!terminal && job.cancelRequested) {
      $('cancel').disabled = true;
      $('cancel').textContent = t('job.cancelling');
    }
    $('retry').hidden = !(job.status === 'failed' || job.status === 'cancelled');
    $('new-video').hidden = job.status !== 'completed';

    if (job.status === 'completed') showVideo(job);
    renderExpiry(job);
    if (job.status === 'failed') {
      const err = job.error || { code: 'unknown', message: '' };
      $('job-failure-title').textContent = t('job.failedTitle');
      const plain = plainError(err.code, err.message, 0);
      $('job-error').textContent = plain.text;
      $('job-next').textContent = t('job.next', { next: plain.next });
      $('job-failure').hidden = false;
    } else if (job.status === 'cancelled') {
      $('job-failure-title').textContent = t('job.cancelledTitle');
      $('job-error').textContent = t('job.cancelledText');
      $('job-next').textContent = '';
      $('job-failure').hidden = false;
    } else {
      $('job-failure').hidden = true;
    }
    if (terminal && view.timer) {
      clearInterval(view.timer);
      view.timer = null;
    }
  }

  /** Tells screen readers about step changes and every quarter of the way, not every percent. */
  function announce(job) {
    const step = job.progress.currentStep;
    const quarter = Math.floor(job.progress.percent / 25);
    const key = job.status + '|' + step + '|' + quarter;
    if (key === view.lastAnnounced) return;
    view.lastAnnounced = key;
    let text;
    if (job.status === 'completed') text = t('announce.completed');
    else if (job.status === 'failed') text = t('announce.failed');
    else if (job.status === 'cancelled') text = t('announce.cancelled');
    else text = t('announce.step', { n: job.progress.stepNumber, total: job.progress.totalSteps, label: stepLabel(step), percent: Math.round(job.progress.percent) });
    $('job-live').textContent = text;
  }

  async function showVideo(job) {
    if (!$('job-result').hidden) return;
    $('job-result').hidden = false;
    $('job-download').hidden = false;
    const base = '/jobs/' + encodeURIComponent(job.jobId) + '/video';
    const video = $('job-video');
    const link = $('job-download');
    link.setAttribute('download', 'avatar-' + job.jobId + '.mp4');
    if (!authToken()) {
      video.src = base;
      link.href = base + '?download=1';
      return;
    }
    // <video src> cannot carry a token: fetch the file with it and play it from memory.
    try {
      const res = await fetch(base, { headers: authHeaders() });
      if (!res.ok) throw apiErrorFrom(res.status, await res.text());
      view.videoObjectUrl = URL.createObjectURL(await res.blob());
      video.src = view.videoObjectUrl;
      link.href = view.videoObjectUrl;
    } catch (err) {
      $('job-message').textContent = t('job.videoNotLoaded') + ' ' + sayError(err.code, err.message, err.status);
    }
  }

  /** The server's progress message is English; other languages say the step in their words. */
  function progressMessage(job) {
    if (t.lang === 'en') return job.progress.message || '';
    if (job.cancelRequested && TERMINAL.indexOf(job.status) < 0) return t('progress.cancelling');
    if (job.status === 'queued') return t('progress.queued');
    return t('progress.' + job.progress.currentStep);
  }

  /** Says until when the video can be downloaded (result.expiresAt, set when the job ends). */
  function renderExpiry(job) {
    const until = job && job.result && job.result.expiresAt;
    $('job-expires').hidden = !until;
    $('job-expires').textContent = until ? t('job.expires', { when: new Date(until).toLocaleString(t.lang) }) : '';
  }

  /** DELETE /jobs/:id after a confirmation: the job, its uploads and its video are removed. */
  async function onDelete() {
    const jobId = view.jobId;
    if (!jobId) return;
    const ok = window.confirm(t('job.confirmDelete'));
    if (!ok) return;
    $('delete').disabled = true;
    try {
      await api('/jobs/' + encodeURIComponent(jobId), { method: 'DELETE' });
      stopJobView();
      navigate('/');
      loadRecent(false);
    } catch (err) {
      $('job-message').hidden = false;
      $('job-message').textContent = t('job.cannotDelete') + ' ' + sayError(err.code, err.message, err.status);
    } finally {
      $('delete').disabled = false;
    }
  }

  async function onCancel() {
    if (!view.jobId) return;
    // Cancelling throws away the work so far: ask first.
    if (!window.confirm(t('job.confirmCancel'))) return;
    $('cancel').disabled = true;
    $('cancel').textContent = t('job.cancelling');
    try {
      await api('/jobs/' + encodeURIComponent(view.jobId) + '/cancel', { method: 'POST' });
    } catch (err) {
      $('cancel').disabled = false;
      $('cancel').textContent = t('job.cancel');
      $('job-message').textContent = t('job.cannotCancel') + ' ' + sayError(err.code, err.message, err.status);
    }
  }

  /**
   * A new job from this one's photo and recording (POST /jobs/:id/retry). When the server no
   * longer keeps them (410), back to the form with the name and bio filled in.
   */
  async function onRetry() {
    const job = view.job;
    if (!job) return;
    $('retry').disabled = true;
    $('retry').textContent = t('job.retrying');
    try {
      const answer = await api('/jobs/' + encodeURIComponent(job.jobId) + '/retry', { method: 'POST' });
      navigate('?job=' + encodeURIComponent(answer.jobId));
      loadRecent();
    } catch (err) {
      $('retry').disabled = false;
      $('retry').textContent = t('job.retry');
      if (err.code === 'uploads_gone') {
        $('name').value = job.input.instructorName || '';
        $('bio').value = job.input.instructorBio || '';
        navigate('/');
        showError('form-note', t('form.reused'));
        $('image').focus();
        return;
      }
      $('job-message').hidden = false;
      $('job-message').textContent = t('job.cannotRetry') + ' ' + sayError(err.code, err.message, err.status);
    }
  }

  // ---------------------------------------------------------------- recent jobs

  let recentCursor = null;

  async function loadRecent(more) {
    showError('recent-error', null);
    try {
      const q = '/jobs?limit=10' + (more && recentCursor ? '&cursor=' + encodeURIComponent(recentCursor) : '');
      const page = await api(q);
      const list = $('recent-list');
      if (!more) list.textContent = '';
      page.jobs.forEach(function (job) {
        list.appendChild(recentItem(job));
      });
      recentCursor = page.nextCursor;
      $('recent-more').hidden = !recentCursor;
      $('recent-empty').hidden = list.children.length > 0;
      highlightRecent();
    } catch (err) {
      showError('recent-error', t('recent.error') + ' ' + sayError(err.code, err.message, err.status));
    }
  }

  function recentStatusText(job) {
    const status = t('status.' + job.status);
    return job.status === 'processing' || job.status === 'queued' ? status + ' ' + Math.round(job.progress.percent) + '%' : status;
  }

  /** Keeps the shown job's line in the recent list in step with the live view. */
  function updateRecentItem(job) {
    const status = document.querySelector('#recent-list a[data-job-id="' + CSS.escape(job.jobId) + '"] .status');
    if (!status) return;
    status.dataset.status = job.status;
    status.textContent = recentStatusText(job);
  }

  function recentItem(job) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '/?job=' + encodeURIComponent(job.jobId);
    a.dataset.jobId = job.jobId;
    const name = document.createElement('span');
    name.className = 'recent-name';
    name.textContent = job.input.instructorName || job.jobId;
    const when = document.createElement('span');
    when.className = 'recent-when';
    when.textContent = new Date(job.createdAt).toLocaleString(t.lang);
    const status = document.createElement('span');
    status.className = 'status';
    status.dataset.status = job.status;
    status.textContent = recentStatusText(job);
    a.append(name, when, status);
    a.addEventListener('click', function (e) {
      if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return; // new tab: let the browser do it
      e.preventDefault();
      navigate('?job=' + encodeURIComponent(job.jobId));
    });
    li.appendChild(a);
    return li;
  }

  function highlightRecent() {
    document.querySelectorAll('#recent-list a').forEach(function (a) {
      if (a.dataset.jobId === view.jobId) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
  }

  // ---------------------------------------------------------------- routing

  function navigate(url) {
    history.pushState(null, '', url);
    route();
  }

  function route() {
    const jobId = new URLSearchParams(location.search).get('job');
    if (jobId) {
      if (jobId !== view.jobId) openJob(jobId);
      document.title = t('job.title') + ' ' + jobId.slice(0, 8) + ' · ' + t('page.title');
    } else {
      stopJobView();
      $('job').hidden = true;
      $('create').hidden = false;
      highlightRecent();
      document.title = t('page.title');
    }
  }

  // ---------------------------------------------------------------- start

  async function loadLimits() {
    try {
      const res = await fetch('/web/config.json');
      if (res.ok) Object.assign(limits, await res.json());
    } catch (_) {
      /* keep the defaults */
    }
    translatePage();
    $('name').maxLength = limits.nameMaxChars;
    $('bio').maxLength = limits.bioMaxChars;
  }

  /** Puts the page's static words in the chosen language, with the server's limits filled in. */
  function translatePage() {
    document.documentElement.lang = t.lang;
    const vars = {
      image: { size: formatBytes(limits.imageMaxBytes) },
      audio: { size: formatBytes(limits.audioMaxBytes) },
      bio: { n: limits.bioMaxChars },
    };
    document.querySelectorAll('[data-i18n]').forEach(function (el) {
      el.textContent = t(el.dataset.i18n, vars[el.dataset.size]);
    });
    document.querySelectorAll('[data-i18n-alt]').forEach(function (el) {
      el.alt = t(el.dataset.i18nAlt);
    });
    document.querySelectorAll('[data-i18n-aria-label]').forEach(function (el) {
      el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
    });
  }

  function start() {
    translatePage();
    // A polite live region outside the sections, so it survives view changes.
    const live = document.createElement('p');
    live.id = 'job-live';
    live.className = 'visually-hidden';
    live.setAttribute('aria-live', 'polite');
    live.setAttribute('role', 'status');
    document.body.appendChild(live);

    $('job-title').tabIndex = -1;
    $('form-error').tabIndex = -1;
    $('create-form').addEventListener('submit', onSubmit);
    ['image', 'audio'].forEach(function (kind) {
      $(kind).addEventListener('change', function () {
        setFieldProblem(kind, checkFile($(kind).files[0], kind));
        showPreview(kind);
      });
    });
    ['name', 'bio'].forEach(function (field) {
      $(field).addEventListener('input', function () {
        recheckField(field);
      });
    });
    const form = $('create-form');
    form.addEventListener('dragover', function (e) {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      form.classList.add('is-dragover');
    });
    form.addEventListener('dragleave', function (e) {
      if (!form.contains(e.relatedTarget)) form.classList.remove('is-dragover');
    });
    form.addEventListener('drop', onDrop);
    $('upload-stop').addEventListener('click', function () {
      if (stopUpload) stopUpload();
    });
    $('cancel').addEventListener('click', onCancel);
    $('delete').addEventListener('click', onDelete);
    $('retry').addEventListener('click', onRetry);
    $('new-video').addEventListener('click', function () {
      navigate('/');
      $('image').focus();
    });
    $('recent-refresh').addEventListener('click', function () {
      loadRecent(false);
    });
    $('recent-more').addEventListener('click', function () {
      loadRecent(true);
    });
    $('home-link').addEventListener('click', function (e) {
      e.preventDefault();
      navigate('/');
    });
    window.addEventListener('popstate', route);
    // The config says how to watch a job (a stream, or Firestore in the cloud): read it first.
    loadLimits().then(route);
    loadRecent(false);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
