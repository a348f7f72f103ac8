/*
 * The avatar video page: plain JavaScript, no framework, no build step; native ES modules
 * (no inline script, so a strict Content-Security-Policy holds), one per concern: settings,
 * api (requests, upload), watch (event stream, Firestore), format, dom (elements, error words),
 * form, jobView, history (recent jobs), navigation. This one routes and starts the page.
 *
 * Views: "/" shows the form, "/?job=<jobId>" shows one job live (a reload or a shared link opens
 * it again). Both show the caller's recent jobs.
 *
 * The words come from messages.mjs, in the browser's language (Korean or English).
 */
import { $ } from './dom.mjs';
import { startForm } from './form.mjs';
import { formatBytes } from './format.mjs';
import { highlightRecent, loadRecent, startHistory } from './history.mjs';
import { openJob, showSteps, startJobView, stopJobView, view } from './jobView.mjs';
import { navigate, setRouter } from './navigation.mjs';
import { applyConfig, configDone, server, t } from './settings.mjs';

function route() {
  const jobId = new URLSearchParams(location.search).get('job');
  if (jobId) {
    if (jobId !== view.jobId) openJob(jobId);
    document.title = t('job.title') + ' ' + jobId.slice(0, 8) + ' · ' + t('page.title');
  } else {
    stopJobView();
    $('job').hidden = true;
    $('create').hidden = false;
    highlightRecent(null);
    document.title = t('page.title');
  }
}

/** GET /config: how to follow a job, the upload limits and types, the steps. */
async function loadConfig() {
  try {
    const res = await fetch('/config', { headers: { Accept: 'application/json' } });
    if (res.ok) applyConfig(await res.json());
  } catch (_) {
    /* the server checks uploads itself; the page follows jobs by the event stream */
  }
  configDone();
  translatePage();
  showSteps(server.steps);
  if (server.upload) {
    $('name').maxLength = server.upload.nameMaxChars;
    $('bio').maxLength = server.upload.bioMaxChars;
  }
}

/** Puts the page's static words in the chosen language, with the server's limits filled in. */
function translatePage() {
  document.documentElement.lang = t.lang;
  const upload = server.upload;
  const vars = {
    image: { size: upload ? formatBytes(upload.image.maxBytes) : '…' },
    audio: { size: upload ? formatBytes(upload.audio.maxBytes) : '…' },
    bio: { n: upload ? upload.bioMaxChars : '…' },
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
  // The tab speaks the page's language at once; route() names the job once the config is read.
  document.title = t('page.title');
  // A polite live region outside the sections, so it survives view changes.
  const live = document.createElement('p');
  live.id = 'job-live';
  live.className = 'visually-hidden';
  live.setAttribute('aria-live', 'polite');
  live.setAttribute('role', 'status');
  document.body.appendChild(live);

  startForm();
  startJobView();
  startHistory();
  $('home-link').addEventListener('click', function (e) {
    e.preventDefault();
    navigate('/');
  });
  setRouter(route);
  window.addEventListener('popstate', route);
  // The config says how to watch a job (a stream, or Firestore in the cloud): read it first.
  loadConfig().then(route);
  loadRecent(false);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
