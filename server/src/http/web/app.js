/*
 * The avatar video page: plain JavaScript, no framework, no build step.
 *
 * Views: "/" shows the form, "/?job=<jobId>" shows one job live (a reload or a shared link opens
 * it again). Both show the caller's recent jobs. Locally the caller is the default user; when a
 * token is stored in localStorage.idToken (a Firebase ID token in the cloud), every request
 * carries it as a Bearer token.
 */
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

  const STEPS = ['avatar.create', 'video.create', 'video.poll', 'video.store'];
  const STEP_LABELS = {
    'avatar.create': 'Prepare the avatar',
    'video.create': 'Start the video',
    'video.poll': 'Render the video',
    'video.store': 'Save the video',
    done: 'Done',
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
      throw new ApiError(0, 'network', 'The server cannot be reached. Is it running?');
    }
    const text = await res.text();
    if (!res.ok) throw apiErrorFrom(res.status, text);
    return text ? JSON.parse(text) : null;
  }

  /** POST /generate-with-tasks with an upload progress callback (fetch cannot report one). */
  function uploadJob(form, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
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
        reject(new ApiError(0, 'network', 'The upload was interrupted: the server cannot be reached.'));
      };
      xhr.onabort = function () {
        reject(new ApiError(0, 'aborted', 'The upload was stopped.'));
      };
      xhr.send(form);
    });
  }

  /**
   * Follows GET /jobs/:id/events. Without a token the browser's EventSource does the work
   * (it reconnects by itself); EventSource cannot send headers, so with a token the stream is
   * read through fetch and parsed here. Returns a function that stops watching.
   */
  function watchJob(jobId, handlers) {
    const url = '/jobs/' + encodeURIComponent(jobId) + '/events';
    if (!authToken() && 'EventSource' in window) {
      const source = new EventSource(url);
      let ended = false;
      source.addEventListener('job', function (e) {
        handlers.onJob(JSON.parse(e.data));
      });
      source.addEventListener('end', function () {
        ended = true;
        source.close();
        handlers.onEnd();
      });
      source.onopen = function () {
        handlers.onConnection(true);
      };
      source.onerror = function () {
        if (ended) return;
        // CLOSED: the server refused the stream (404, 401); otherwise it is reconnecting.
        if (source.readyState === EventSource.CLOSED) handlers.onFatal();
        else handlers.onConnection(false);
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
          handlers.onConnection(false);
          await new Promise(function (r) {
            setTimeout(r, 3000);
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

  // ---------------------------------------------------------------- the form

  /** The same checks the server makes, said in the same words; null when the file is fine. */
  function checkFile(file, kind) {
    const isImage = kind === 'image';
    const label = isImage ? 'photo' : 'voice recording';
    if (!file) return 'Choose a ' + label + '.';
    if (file.size === 0) return 'The ' + label + ' file is empty.';
    const types = isImage ? IMAGE_TYPES : AUDIO_TYPES;
    const exts = isImage ? IMAGE_EXTS : AUDIO_EXTS;
    const typeOk = file.type ? types.indexOf(file.type.toLowerCase()) >= 0 : false;
    const extOk = exts.indexOf(extensionOf(file.name)) >= 0;
    if (!typeOk && !extOk) {
      return isImage ? 'The photo must be a JPEG, PNG, WebP or HEIC image.' : 'The voice recording must be a WAV, MP3 or M4A file.';
    }
    const max = isImage ? limits.imageMaxBytes : limits.audioMaxBytes;
    if (file.size > max) return 'The ' + label + ' is larger than ' + formatBytes(max) + '.';
    return null;
  }

  function validateForm() {
    const problems = [];
    const image = $('image').files[0];
    const audio = $('audio').files[0];
    const name = $('name').value.trim();
    const bio = $('bio').value.trim();
    const imageProblem = checkFile(image, 'image');
    const audioProblem = checkFile(audio, 'audio');
    let nameProblem = null;
    if (!name) nameProblem = 'Enter the instructor’s name.';
    else if (name.length > limits.nameMaxChars) nameProblem = 'The name may have at most ' + limits.nameMaxChars + ' characters.';
    const bioProblem = bio.length > limits.bioMaxChars ? 'The bio may have at most ' + limits.bioMaxChars + ' characters.' : null;
    [
      ['image', imageProblem],
      ['audio', audioProblem],
      ['name', nameProblem],
      ['bio', bioProblem],
    ].forEach(function (pair) {
      showError(pair[0] + '-error', pair[1]);
      $(pair[0]).setAttribute('aria-invalid', pair[1] ? 'true' : 'false');
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

  async function onSubmit(event) {
    event.preventDefault();
    if (uploading) return;
    showError('form-error', null);
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
    $('submit').textContent = 'Uploading…';
    $('upload').hidden = false;
    setUploadProgress(0);
    try {
      const answer = await uploadJob(form, function (loaded, total) {
        setUploadProgress(total ? Math.floor((loaded / total) * 100) : 0);
      });
      setUploadProgress(100);
      navigate('?job=' + encodeURIComponent(answer.jobId));
      loadRecent();
    } catch (err) {
      const field = fieldOfServerError(err);
      if (field) {
        showError(field + '-error', err.message);
        $(field).setAttribute('aria-invalid', 'true');
      }
      showError('form-error', 'The server refused the upload: ' + err.message);
      $('form-error').focus();
    } finally {
      uploading = false;
      $('submit').disabled = false;
      $('submit').textContent = 'Make the video';
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
  };

  /** Failure codes said in plain words; the server's own message follows as the detail. */
  const PLAIN_FAILURES = {
    bad_media: 'The photo or the voice recording could not be read. Try another file.',
    media_too_large: 'A file is larger than the video service accepts.',
    provider_failed: 'The video service could not make this video.',
    provider_rejected: 'The video service refused this request.',
    timeout: 'The video took too long to make and was stopped.',
    provider_video_expired: 'The video service no longer has this video.',
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
    $('job-title').textContent = 'Video';
    $('job-result').hidden = true;
    $('job-download').hidden = true;
    $('job-failure').hidden = true;
    $('job-video').removeAttribute('src');
    $('job-message').textContent = 'Connecting…';
    $('job-connection').hidden = true;
    $('cancel').hidden = false;
    $('cancel').disabled = false;
    $('cancel').textContent = 'Cancel';
    $('retry').hidden = true;
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
        // The retention dates are stamped just after the last snapshot: read them once more.
        try {
          const job = await api('/jobs/' + encodeURIComponent(jobId));
          if (view.jobId === jobId) renderExpiry(job);
        } catch (err) {
          /* the page still shows the job as it ended */
        }
      },
      onConnection: function (ok) {
        if (view.jobId !== jobId) return;
        $('job-connection').hidden = ok;
        $('job-connection').textContent = ok ? '' : 'Connection lost; reconnecting…';
      },
      onFatal: async function () {
        if (view.jobId !== jobId) return;
        // The stream was refused: ask once more to learn why (not found, not signed in).
        try {
          const job = await api('/jobs/' + encodeURIComponent(jobId));
          view.job = job;
          renderJob(job);
        } catch (err) {
          showJobProblem(err.status === 404 ? 'There is no video ' + jobId + ' for you. It may belong to someone else.' : err.message);
        }
      },
    });
    $('job-title').focus();
  }

  function showJobProblem(text) {
    $('job-status').textContent = 'unknown';
    $('job-status').dataset.status = 'failed';
    $('job-failure-title').textContent = 'This video cannot be shown';
    $('job-error').textContent = text;
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
      const label = STEP_LABELS[li.dataset.step];
      const suffix = { done: ' (done)', current: ' (in progress)', failed: ' (failed)', stopped: ' (stopped)', pending: '' }[state];
      li.setAttribute('aria-label', label + suffix);
    });
    const percent = job ? Math.max(0, Math.min(100, Math.round(job.progress.percent))) : 0;
    $('job-bar').value = percent;
    $('job-percent').textContent = percent + '%';
    $('job-status').textContent = status;
    $('job-status').dataset.status = status;
  }

  function renderElapsed() {
    const job = view.job;
    if (!job) return;
    const start = Date.parse(job.createdAt);
    const end = TERMINAL.indexOf(job.status) >= 0 ? Date.parse(job.completedAt || job.updatedAt) : Date.now();
    $('job-elapsed').textContent = formatDuration(end - start);
  }

  function renderJob(job) {
    renderProgress(job);
    renderElapsed();
    $('job-title').textContent = 'Video for ' + (job.input.instructorName || 'instructor');
    $('job-created').textContent = 'Started ' + new Date(job.createdAt).toLocaleString() + ' · ';
    const p = job.provider || {};
    $('job-provider').textContent = (p.name || '–') + (p.providerStatus ? ' · ' + p.providerStatus : '') + (p.polls ? ' · ' + p.polls + (p.polls === 1 ? ' check' : ' checks') : '');
    const terminal = TERMINAL.indexOf(job.status) >= 0;
    $('job-message').textContent = job.progress.message || '';
    // A failed or cancelled job's last message is what the box below says in plain words.
    $('job-message').hidden = job.status === 'failed' || job.status === 'cancelled';
    $('job-failure').classList.toggle('is-cancelled', job.status === 'cancelled');
    updateRecentItem(job);
    announce(job);

    $('cancel').hidden = terminal;
    if (!terminal && job.cancelRequested) {
      $('cancel').disabled = true;
      $('cancel').textContent = 'Cancelling…';
    }
    $('retry').hidden = !(job.status === 'failed' || job.status === 'cancelled');
    $('new-video').hidden = job.status !== 'completed';

    if (job.status === 'completed') showVideo(job);
    renderExpiry(job);
    if (job.status === 'failed') {
      const err = job.error || { code: 'unknown', message: 'No reason was given.' };
      $('job-failure-title').textContent = 'The video could not be made';
      const plain = PLAIN_FAILURES[err.code];
      $('job-error').textContent = plain ? plain + ' (' + err.message + ')' : err.message;
      $('job-failure').hidden = false;
    } else if (job.status === 'cancelled') {
      $('job-failure-title').textContent = 'Cancelled';
      $('job-error').textContent = 'This video was cancelled before it was finished.';
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
    if (job.status === 'completed') text = 'The video is ready.';
    else if (job.status === 'failed') text = 'The video could not be made.';
    else if (job.status === 'cancelled') text = 'The video was cancelled.';
    else text = 'Step ' + job.progress.stepNumber + ' of ' + job.progress.totalSteps + ': ' + (STEP_LABELS[step] || step) + ', ' + Math.round(job.progress.percent) + '%';
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
      $('job-message').textContent = 'The video is ready but could not be loaded: ' + err.message;
    }
  }

  /** Says until when the video can be downloaded (result.expiresAt, set when the job ends). */
  function renderExpiry(job) {
    const until = job && job.result && job.result.expiresAt;
    $('job-expires').hidden = !until;
    $('job-expires').textContent = until ? 'You can download this video until ' + new Date(until).toLocaleString() + '.' : '';
  }

  /** DELETE /jobs/:id after a confirmation: the job, its uploads and its video are removed. */
  async function onDelete() {
    const jobId = view.jobId;
    if (!jobId) return;
    const ok = window.confirm('Delete this video job? The photo, the recording and the video are removed for good; a running job is cancelled.');
    if (!ok) return;
    $('delete').disabled = true;
    try {
      await api('/jobs/' + encodeURIComponent(jobId), { method: 'DELETE' });
      stopJobView();
      navigate('/');
      loadRecent(false);
    } catch (err) {
      $('job-message').hidden = false;
      $('job-message').textContent = 'Could not delete: ' + err.message;
    } finally {
      $('delete').disabled = false;
    }
  }

  async function onCancel() {
    if (!view.jobId) return;
    $('cancel').disabled = true;
    $('cancel').textContent = 'Cancelling…';
    try {
      await api('/jobs/' + encodeURIComponent(view.jobId) + '/cancel', { method: 'POST' });
    } catch (err) {
      $('cancel').disabled = false;
      $('cancel').textContent = 'Cancel';
      $('job-message').textContent = 'Could not cancel: ' + err.message;
    }
  }

  /** Back to the form, with what was sent last time (or the job's own name and bio). */
  function onRetry() {
    const job = view.job;
    if (job && !$('name').value) $('name').value = job.input.instructorName || '';
    if (job && !$('bio').value) $('bio').value = job.input.instructorBio || '';
    navigate('/');
    const missing = !$('image').files[0] ? 'image' : !$('audio').files[0] ? 'audio' : 'submit';
    $(missing).focus();
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
      showError('recent-error', 'Could not load recent videos: ' + err.message);
    }
  }

  function recentStatusText(job) {
    return job.status === 'processing' || job.status === 'queued' ? job.status + ' ' + Math.round(job.progress.percent) + '%' : job.status;
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
    when.textContent = new Date(job.createdAt).toLocaleString();
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
      document.title = 'Video ' + jobId.slice(0, 8) + ' · Avatar video';
    } else {
      stopJobView();
      $('job').hidden = true;
      $('create').hidden = false;
      highlightRecent();
      document.title = 'Avatar video';
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
    document.querySelectorAll('[data-limit]').forEach(function (el) {
      const kind = el.dataset.limit;
      if (kind === 'image') el.textContent = formatBytes(limits.imageMaxBytes);
      if (kind === 'audio') el.textContent = formatBytes(limits.audioMaxBytes);
      if (kind === 'bio') el.textContent = String(limits.bioMaxChars);
    });
    $('name').maxLength = limits.nameMaxChars;
    $('bio').maxLength = limits.bioMaxChars;
  }

  function start() {
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
        const problem = checkFile($(kind).files[0], kind);
        showError(kind + '-error', problem);
        $(kind).setAttribute('aria-invalid', problem ? 'true' : 'false');
      });
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
    loadLimits();
    route();
    loadRecent(false);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
