/*
 * The form: file pickers (and drag and drop), previews, the same checks the server makes, and
 * the upload with its progress bar.
 */
import { uploadJob } from './api.mjs';
import { $, plainError, showError } from './dom.mjs';
import { extensionOf, formatBytes } from './format.mjs';
import { loadRecent } from './history.mjs';
import { navigate } from './navigation.mjs';
import { configRead, server, t } from './settings.mjs';

/** The same checks the server makes, said in the same words; null when the file is fine. */
export function checkFile(file, kind) {
  const isImage = kind === 'image';
  if (!file) return t(isImage ? 'check.choosePhoto' : 'check.chooseAudio');
  if (file.size === 0) return t(isImage ? 'check.emptyPhoto' : 'check.emptyAudio');
  // Without the server's rules (GET /config not answered), the server checks the rest.
  const rules = server.upload && server.upload[kind];
  if (!rules) return null;
  const typeOk = file.type ? rules.types.indexOf(file.type.toLowerCase()) >= 0 : false;
  const extOk = rules.extensions.indexOf(extensionOf(file.name)) >= 0;
  if (!typeOk && !extOk) {
    return t(isImage ? 'check.typePhoto' : 'check.typeAudio');
  }
  if (file.size > rules.maxBytes) return t(isImage ? 'check.bigPhoto' : 'check.bigAudio', { size: formatBytes(rules.maxBytes) });
  return null;
}

function checkName() {
  const name = $('name').value.trim();
  if (!name) return t('check.name');
  if (server.upload && name.length > server.upload.nameMaxChars) return t('check.nameLong', { n: server.upload.nameMaxChars });
  return null;
}

function checkBio() {
  const max = server.upload ? server.upload.bioMaxChars : Infinity;
  return $('bio').value.trim().length > max ? t('check.bioLong', { n: max }) : null;
}

export function setFieldProblem(field, problem) {
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
  const accepts = function (kind) {
    const rules = server.upload && server.upload[kind];
    return !!rules && (rules.types.indexOf(type) >= 0 || rules.extensions.indexOf(ext) >= 0);
  };
  if (accepts('image') || type.startsWith('image/')) return 'image';
  if (accepts('audio') || type.startsWith('audio/')) return 'audio';
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
let waitingForConfig = false;
let stopUpload = null;

async function onSubmit(event) {
  event.preventDefault();
  if (uploading || waitingForConfig) return;
  // A form sent while the page is still reading GET /config is checked by the server's limits
  // once they are known (a moment), not sent unchecked.
  waitingForConfig = true;
  await configRead;
  waitingForConfig = false;
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

/** The form's listeners: checks as fields change, previews, drag and drop, submit, stop. */
export function startForm() {
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
}
