// The page's side of the JSON API (API.md): requests, their errors, and the banner that shows
// those errors to the reader.

/** An error the API answered (or a failure to reach it), with the API's code. */
export class ApiError extends Error {
  /**
   * @param {string} message for the reader
   * @param {string} code the API's code ("not_found", "conflict", ...), or "network"
   * @param {number} status the HTTP status, 0 when the server could not be reached
   */
  constructor(message, code, status) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/**
 * GETs a JSON document from the API.
 * @param {string} path such as "/api/executions"
 * @param {{params?: Object<string, string | number | null | undefined>, signal?: AbortSignal}} [options]
 *   query parameters (empty ones left out) and a signal that abandons the request
 * @returns {Promise<*>} the parsed answer
 * @throws {ApiError} on an error answer or an unreachable server; an AbortError when abandoned
 */
export async function getJson(path, options = {}) {
  return request(withQuery(path, options.params), { method: 'GET', signal: options.signal });
}

/**
 * POSTs an action (cancel, re-run) to the API, with the header actions need.
 * @param {string} path such as "/api/executions/<id>/cancel"
 * @param {{signal?: AbortSignal}} [options]
 * @returns {Promise<*>} the parsed answer
 * @throws {ApiError} on an error answer or an unreachable server; an AbortError when abandoned
 */
export async function postAction(path, options = {}) {
  return request(path, { method: 'POST', headers: { 'X-Cloacina-Action': '1' }, signal: options.signal });
}

/**
 * The path with its query string, leaving out empty parameters.
 * @param {string} path
 * @param {Object<string, string | number | null | undefined>} [params]
 * @returns {string}
 */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value != null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function request(path, init) {
  let response;
  try {
    response = await fetch(path, {
      ...init,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', ...(init.headers || {}) },
    });
  } catch (failure) {
    if (failure && failure.name === 'AbortError') throw failure;
    throw new ApiError('The server could not be reached.', 'network', 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (failure) {
    if (failure && failure.name === 'AbortError') throw failure;
    body = null;
  }
  if (!response.ok) {
    const detail = body && body.error;
    const message = detail && detail.message ? detail.message : `The server answered ${response.status} ${response.statusText}.`;
    throw new ApiError(message, detail && detail.code ? detail.code : 'http', response.status);
  }
  return body;
}

/**
 * Whether an error only means a request was abandoned (the reader navigated away).
 * @param {*} error
 * @returns {boolean}
 */
export function isAbort(error) {
  return Boolean(error) && error.name === 'AbortError';
}

/**
 * Shows an error in the page's banner (`[data-role=error]`); abandoned requests are ignored.
 * @param {*} error an ApiError, or any Error
 */
export function showError(error) {
  if (isAbort(error)) return;
  const banner = document.querySelector('[data-role=error]');
  if (!banner) return;
  const message = error && error.message ? error.message : String(error);
  const code = error && error.code ? error.code : 'error';
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'dismiss';
  dismiss.setAttribute('aria-label', 'Dismiss');
  dismiss.textContent = '×';
  dismiss.addEventListener('click', clearError);
  const codeElement = document.createElement('span');
  codeElement.className = 'error-code';
  codeElement.textContent = code.replace(/_/g, ' ');
  const text = document.createElement('span');
  text.className = 'error-message';
  text.textContent = message;
  banner.replaceChildren(codeElement, text, dismiss);
  banner.dataset.code = code;
  banner.hidden = false;
}

/**
 * Hides the error banner.
 */
export function clearError() {
  const banner = document.querySelector('[data-role=error]');
  if (!banner) return;
  banner.hidden = true;
  banner.replaceChildren();
  delete banner.dataset.code;
}

let information = null;

/**
 * What the server is (`/api/info`), asked once per page load.
 * @returns {Promise<{version: string, read_only: boolean, database: string, registered_workflows: string[]}>}
 */
export function serverInfo() {
  if (!information) {
    information = getJson('/api/info').catch((error) => {
      information = null;
      throw error;
    });
  }
  return information;
}
