/*
 * The service's HTTP API as the page calls it: JSON requests and the upload with progress.
 * Locally the caller is the default user; when a token is stored in localStorage.idToken (a
 * Firebase ID token in the cloud), every request carries it as a Bearer token.
 */

/** The stored sign-in token, if any (see the file comment). */
export function authToken() {
  try {
    return window.localStorage.getItem('idToken') || '';
  } catch (_) {
    return ''; // storage disabled: behave as the local default user
  }
}

export function authHeaders() {
  const token = authToken();
  return token ? { Authorization: 'Bearer ' + token } : {};
}

/** An error answer of the API: {success:false, error:{code, message}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function apiErrorFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) return new ApiError(status, body.error.code || 'error', body.error.message);
  } catch (_) {
    /* not JSON: fall through */
  }
  return new ApiError(status, 'http_' + status, 'The server answered ' + status + (text ? ': ' + text.slice(0, 200) : ''));
}

export async function api(path, options) {
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
export function uploadJob(form, onProgress) {
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
