// The page's entry point: a router over the location's hash, which renders one page into
// <main> and tears the previous one down (its requests, timers and live streams).

import { clearError, serverInfo, showError } from './api.js';
import { element } from './dom.js';
import { executionPage } from './execution.js';
import { executionsPage } from './executions.js';
import { schedulesPage } from './schedules.js';
import { workflowPage, workflowsPage } from './workflows.js';

/** The pages, by the path of the hash; captured groups are passed on, decoded. */
const ROUTES = [
  { pattern: /^\/$/, render: executionsPage, section: 'executions' },
  { pattern: /^\/executions\/([^/]+)$/, render: executionPage, section: 'executions' },
  { pattern: /^\/workflows$/, render: workflowsPage, section: 'workflows' },
  { pattern: /^\/workflows\/([^/]+)$/, render: workflowPage, section: 'workflows' },
  { pattern: /^\/schedules$/, render: schedulesPage, section: 'schedules' },
];

/**
 * Splits a location hash into its path and its query: `#/executions?status=Failed` gives
 * `{path: "/executions", query: URLSearchParams("status=Failed")}`.
 * @param {string} hash
 * @returns {{path: string, query: URLSearchParams}}
 */
export function parseHash(hash) {
  const text = hash.replace(/^#/, '') || '/';
  const mark = text.indexOf('?');
  const path = (mark === -1 ? text : text.slice(0, mark)) || '/';
  const query = new URLSearchParams(mark === -1 ? '' : text.slice(mark + 1));
  return { path: path.length > 1 ? path.replace(/\/+$/, '') : path, query };
}

/**
 * The hash for a path and a query, leaving out empty query values.
 * @param {string} path
 * @param {Object<string, string | null | undefined>} [query]
 * @returns {string}
 */
export function hashFor(path, query = {}) {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value != null && value !== '') parameters.set(name, value);
  }
  const text = parameters.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

let current = null;

function leaveCurrent() {
  if (!current) return;
  current.controller.abort();
  for (const cleanup of current.cleanups.splice(0)) {
    try {
      cleanup();
    } catch (error) {
      showError(error);
    }
  }
  current = null;
}

function route() {
  leaveCurrent();
  clearError();
  const main = document.querySelector('main');
  const { path, query } = parseHash(window.location.hash);
  const controller = new AbortController();
  const cleanups = [];
  current = { controller, cleanups };
  const page = {
    main,
    query,
    signal: controller.signal,
    /** Registers what to undo when the reader leaves the page. */
    onLeave: (cleanup) => cleanups.push(cleanup),
  };
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  let matched = null;
  let captured = [];
  for (const candidate of ROUTES) {
    const found = candidate.pattern.exec(path);
    if (found) {
      matched = candidate;
      captured = found.slice(1).map((part) => safeDecode(part));
      break;
    }
  }
  markSection(matched ? matched.section : null);
  if (!matched) {
    document.title = 'Not found · Cloacina';
    main.append(element('h1', { text: 'No such page' }), element('p', {}, [element('a', { href: '#/', text: 'See the executions' })]));
    main.removeAttribute('aria-busy');
    return;
  }
  Promise.resolve()
    .then(() => matched.render(page, ...captured))
    .catch(showError)
    .finally(() => {
      if (!controller.signal.aborted) main.removeAttribute('aria-busy');
    });
}

function safeDecode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function markSection(section) {
  for (const link of document.querySelectorAll('nav a[data-section]')) {
    if (link.dataset.section === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function describeServer() {
  const place = document.querySelector('[data-role=server]');
  if (!place) return;
  try {
    const info = await serverInfo();
    const parts = [`Cloacina ${info.version}`, info.database];
    if (info.read_only) parts.push('read-only');
    place.textContent = parts.join(' · ');
    document.body.classList.toggle('read-only', Boolean(info.read_only));
  } catch (error) {
    showError(error);
  }
}

/**
 * Starts the page: renders the page the hash names, and again whenever it changes.
 */
export function start() {
  window.addEventListener('hashchange', route);
  route();
  describeServer();
}

start();
