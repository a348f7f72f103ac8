/* The caller's recent jobs, a page at a time, the shown one highlighted. */
import { api } from './api.mjs';
import { $, sayError, showError } from './dom.mjs';
import { navigate } from './navigation.mjs';
import { t } from './settings.mjs';

/** The job the page shows, highlighted in the list. */
let shownJobId = null;

let recentCursor = null;

export async function loadRecent(more) {
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
    highlightRecent(shownJobId);
  } catch (err) {
    showError('recent-error', t('recent.error') + ' ' + sayError(err.code, err.message, err.status));
  }
}

function recentStatusText(job) {
  const status = t('status.' + job.status);
  return job.status === 'processing' || job.status === 'queued' ? status + ' ' + Math.round(job.progress.percent) + '%' : status;
}

/** Keeps the shown job's line in the recent list in step with the live view. */
export function updateRecentItem(job) {
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

/** Marks `jobId` (the shown job; null: none) as the current one in the list. */
export function highlightRecent(jobId) {
  shownJobId = jobId;
  document.querySelectorAll('#recent-list a').forEach(function (a) {
    if (a.dataset.jobId === shownJobId) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

/** The list's buttons: refresh and more. */
export function startHistory() {
  $('recent-refresh').addEventListener('click', function () {
    loadRecent(false);
  });
  $('recent-more').addEventListener('click', function () {
    loadRecent(true);
  });
}
