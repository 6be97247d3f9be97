// Building elements from data without ever parsing data as markup: every text goes through
// textContent or a text node, every attribute through setAttribute.

import { formatDuration, formatRelative, formatTime, parseTime, shortId } from './format.js';

const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';

/**
 * Creates an HTML element.
 * @param {string} tag
 * @param {Object<string, *>} [properties] attributes, plus `text` (the text content) and
 *   `on<event>` functions (listeners); `true` sets an empty attribute, false/null/undefined none
 * @param {Array<Node | string | null | false | Array>} [children] strings become text nodes
 * @returns {HTMLElement}
 */
export function element(tag, properties = {}, children = []) {
  return fill(document.createElement(tag), properties, children);
}

/**
 * Creates an SVG element, as `element` does an HTML one.
 * @param {string} tag
 * @param {Object<string, *>} [properties]
 * @param {Array<Node | string | null | false | Array>} [children]
 * @returns {SVGElement}
 */
export function svgElement(tag, properties = {}, children = []) {
  return fill(document.createElementNS(SVG_NAMESPACE, tag), properties, children);
}

function fill(node, properties, children) {
  for (const [name, value] of Object.entries(properties)) {
    if (name === 'text') {
      node.textContent = value == null ? '' : String(value);
    } else if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      node.setAttribute(name, '');
    } else if (value !== false && value != null) {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/**
 * A status badge, coloured by the shared status classes.
 * @param {string | null} status
 * @returns {HTMLElement}
 */
export function statusBadge(status) {
  return element('span', { class: `badge status-${status || 'none'}`, text: status || 'unknown' });
}

/**
 * A `<time>` showing an API time in the reader's zone, with the exact UTC time on hover.
 * @param {string | null} time
 * @param {{relative?: boolean}} [options] show "5 min ago" instead of the clock time
 * @returns {HTMLElement | Text}
 */
export function timeElement(time, options = {}) {
  if (!time) return document.createTextNode('—');
  const shown = options.relative ? formatRelative(time) : formatTime(time);
  const title = options.relative ? `${formatTime(time)} (${time})` : time;
  return element('time', { datetime: time, title, text: shown });
}

/**
 * A link to an execution's page, showing its short id.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function executionLink(id) {
  return element('a', { href: `#/executions/${encodeURIComponent(id)}`, class: 'mono', title: id, text: shortId(id) });
}

/**
 * A link to a workflow's page.
 * @param {string} name
 * @returns {HTMLElement}
 */
export function workflowLink(name) {
  return element('a', { href: `#/workflows/${encodeURIComponent(name)}`, text: name });
}

/**
 * A table in a horizontally scrollable box, so wide tables never widen the page.
 * @param {string[]} headings
 * @param {HTMLElement[]} rows `<tr>` elements
 * @param {{empty?: string, label?: string}} [options] the text shown when there is no row
 * @returns {HTMLElement}
 */
export function table(headings, rows, options = {}) {
  const body = element('tbody', {}, rows.length
    ? rows
    : [element('tr', {}, [element('td', { colspan: headings.length, class: 'empty', text: options.empty || 'Nothing here.' })])]);
  return element('div', { class: 'table-scroll', role: 'region', 'aria-label': options.label || null, tabindex: '0' }, [
    element('table', {}, [
      element('thead', {}, [element('tr', {}, headings.map((heading) => element('th', { scope: 'col', text: heading })))]),
      body,
    ]),
  ]);
}

/**
 * A list of terms and their values (`<dl>`), skipping entries whose value is null.
 * @param {Array<[string, Node | string | null]>} entries
 * @returns {HTMLElement}
 */
export function definitionList(entries) {
  return element('dl', { class: 'facts' }, entries
    .filter(([, value]) => value != null && value !== '')
    .map(([term, value]) => element('div', {}, [element('dt', { text: term }), element('dd', {}, [value])])));
}

/**
 * How long an execution took, or "running for ..." while it runs.
 * @param {{status: string, created_at: string, finished_at: string | null}} execution
 * @param {number} [now]
 * @returns {string}
 */
export function executionDuration(execution, now = Date.now()) {
  const start = parseTime(execution.created_at);
  if (start == null) return '';
  if (execution.finished_at) return formatDuration(parseTime(execution.finished_at) - start);
  const verb = execution.status === 'Pending' ? 'pending' : 'running';
  return `${verb} for ${formatDuration(now - start)}`;
}

/**
 * A line of text shown while a page loads or when it has nothing to show.
 * @param {string} text
 * @returns {HTMLElement}
 */
export function notice(text) {
  return element('p', { class: 'notice', text });
}
