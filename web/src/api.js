// Same-origin calls to /-/api/. The session cookie rides along by itself;
// state-changing calls add the CSRF token the server put in the page.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

// The key as URL path segments. A "." or ".." segment would be resolved away
// by the browser (which treats "%2e" alike), so such a key goes as a single
// segment with its slashes encoded; the server decodes either form.
export function keyPath(key) {
  const segments = key.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return encodeURIComponent(key);
  return segments.map(encodeURIComponent).join('/');
}

export function objectUrl(bucket, key) {
  return `/-/api/objects/${encodeURIComponent(bucket)}/${keyPath(key)}`;
}

function headersFor(method, extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  return headers;
}

async function failure(response) {
  if (response.status === 401) {
    // The session is gone (token changed): the page itself shows the form.
    window.location.assign('/ui/');
  }
  let code = '';
  let message = '';
  try {
    const body = await response.json();
    code = body.error ?? '';
    message = body.message ?? '';
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

export async function api(path, { method = 'GET', json } = {}) {
  const init = { method, credentials: 'same-origin', headers: headersFor(method) };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

// PUT with upload progress (fetch has none): XMLHttpRequest.
export function upload(key, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/-/api/upload/${keyPath(key)}`);
    for (const [name, value] of Object.entries(headersFor('PUT'))) xhr.setRequestHeader(name, value);
    if (file.type) xhr.setRequestHeader('Content-Type', file.type);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* keep null */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body?.error, body?.message));
    };
    xhr.onerror = () => reject(new ApiError(0, 'NetworkError', 'the upload did not reach the server'));
    xhr.send(file);
  });
}
