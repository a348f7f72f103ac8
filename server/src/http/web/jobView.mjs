/*
 * One job, live: its steps, progress, time left, result or failure, and the cancel, retry and
 * delete buttons.
 */
import { api, apiErrorFrom, authHeaders, authToken } from './api.mjs';
import { $, plainError, sayError, showError } from './dom.mjs';
import { describeRemaining, estimateRemainingMs } from './eta.mjs';
import { formatDuration } from './format.mjs';
import { highlightRecent, loadRecent, updateRecentItem } from './history.mjs';
import { navigate } from './navigation.mjs';
import { TERMINAL, stepLabel, t } from './settings.mjs';
import { watchJob } from './watch.mjs';

export const view = {
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

export function stopJobView() {
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

export function openJob(jobId) {
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
  highlightRecent(jobId);
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
  // The steps listed on the page: the server's (see showSteps).
  const steps = Array.prototype.map.call(document.querySelectorAll('#steps li'), function (li) {
    return li.dataset.step;
  });
  const currentIndex = current === 'done' ? steps.length : steps.indexOf(current);
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
export async function onDelete() {
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

export async function onCancel() {
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
export async function onRetry() {
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

/** The job view's buttons: cancel, delete, retry and "make another video". */
export function startJobView() {
  $('job-title').tabIndex = -1;
  $('cancel').addEventListener('click', onCancel);
  $('delete').addEventListener('click', onDelete);
  $('retry').addEventListener('click', onRetry);
  $('new-video').addEventListener('click', function () {
    navigate('/');
    $('image').focus();
  });
}

/** The list of steps as the server gives them (GET /config), in place of the page's own. */
export function showSteps(names) {
  if (!names.length) return;
  const list = $('steps');
  list.textContent = '';
  names.forEach(function (name) {
    const li = document.createElement('li');
    li.dataset.step = name;
    li.textContent = stepLabel(name);
    list.appendChild(li);
  });
}
