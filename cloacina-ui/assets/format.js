// How times, durations and ids read on the page. Pure functions: no DOM, usable from Node.

/** The statuses after which an execution changes no more. */
export const FINISHED_STATUSES = new Set(['Completed', 'Failed', 'Cancelled']);

/**
 * Milliseconds since the epoch of an RFC 3339 time from the API, or null.
 * Fractions beyond milliseconds are dropped so every browser reads them alike.
 * @param {string | null | undefined} text
 * @returns {number | null}
 */
export function parseTime(text) {
  if (!text) return null;
  const trimmed = String(text).replace(/(\.\d{3})\d+/, '$1');
  const milliseconds = Date.parse(trimmed);
  return Number.isNaN(milliseconds) ? null : milliseconds;
}

/**
 * A duration as people read it: "120 ms", "1.2 s", "34 s", "3 min 4 s", "2 h 5 min", "3 d 4 h".
 * @param {number | null | undefined} milliseconds
 * @returns {string} the empty string for a missing duration
 */
export function formatDuration(milliseconds) {
  if (milliseconds == null || Number.isNaN(milliseconds)) return '';
  const value = Math.max(0, milliseconds);
  if (value < 1000) return `${Math.round(value)} ms`;
  const seconds = value / 1000;
  if (seconds < 10) return `${(Math.floor(seconds * 10) / 10).toFixed(1)} s`;
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return joinUnits(minutes, 'min', Math.floor(seconds % 60), 's');
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return joinUnits(hours, 'h', minutes % 60, 'min');
  return joinUnits(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

function joinUnits(major, majorUnit, minor, minorUnit) {
  return minor ? `${major} ${majorUnit} ${minor} ${minorUnit}` : `${major} ${majorUnit}`;
}

/**
 * The time between two API times, or from the first to `now` when the second is missing.
 * @param {string | null} start
 * @param {string | null} end
 * @param {number} [now] milliseconds since the epoch
 * @returns {number | null} milliseconds
 */
export function elapsed(start, end, now = Date.now()) {
  const from = parseTime(start);
  if (from == null) return null;
  const to = parseTime(end) ?? now;
  return Math.max(0, to - from);
}

/**
 * A time in the reader's zone, "2026-12-05 18:27:22".
 * @param {string | number | null} time an API time or milliseconds
 * @returns {string} the empty string for a missing time
 */
export function formatTime(time) {
  const milliseconds = typeof time === 'number' ? time : parseTime(time);
  if (milliseconds == null) return '';
  const date = new Date(milliseconds);
  const pad = (number) => String(number).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * A time relative to now: "5 s ago", "in 3 min", "just now".
 * @param {string | null} time an API time
 * @param {number} [now] milliseconds since the epoch
 * @returns {string} the empty string for a missing time
 */
export function formatRelative(time, now = Date.now()) {
  const milliseconds = parseTime(time);
  if (milliseconds == null) return '';
  const difference = milliseconds - now;
  if (Math.abs(difference) < 1000) return 'just now';
  const coarse = formatDuration(Math.abs(difference) < 60000 ? Math.abs(difference) : roundToMinute(Math.abs(difference)));
  return difference < 0 ? `${coarse} ago` : `in ${coarse}`;
}

function roundToMinute(milliseconds) {
  return Math.round(milliseconds / 60000) * 60000;
}

/**
 * The last eight characters of an id, enough to tell executions apart on a page.
 * @param {string | null} id
 * @returns {string}
 */
export function shortId(id) {
  // Execution ids begin with their creation time (UUID version 7), so executions created
  // together share their first characters: the last ones tell them apart.
  return id ? String(id).slice(-8) : '';
}

/**
 * A `datetime-local` input's value (the reader's zone) as an RFC 3339 time in UTC.
 * @param {string} value such as "2026-12-05T18:27"
 * @returns {string} the empty string for an empty or unreadable value
 */
export function localInputToRfc3339(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

/**
 * An RFC 3339 time as a `datetime-local` input's value in the reader's zone.
 * @param {string} text
 * @returns {string} the empty string for an empty or unreadable time
 */
export function rfc3339ToLocalInput(text) {
  const milliseconds = parseTime(text);
  if (milliseconds == null) return '';
  const date = new Date(milliseconds);
  const pad = (number) => String(number).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T`
    + `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/**
 * Cuts a text to at most `length` characters, ending it with an ellipsis when cut.
 * @param {string} text
 * @param {number} length
 * @returns {string}
 */
export function ellipsis(text, length) {
  const value = String(text ?? '');
  return value.length > length ? `${value.slice(0, Math.max(1, length - 1))}…` : value;
}

/**
 * The mapped task an instance id (`name[3]`) belongs to, or null for any other id.
 * @param {string} id
 * @returns {string | null}
 */
export function mappedTaskOf(id) {
  const match = /^(.*)\[\d+\]$/.exec(String(id));
  return match ? match[1] : null;
}

/**
 * The line of an error worth showing in a list: the last line of a Python traceback (the
 * exception itself), otherwise the first line.
 * @param {string | null} error
 * @returns {string}
 */
export function errorHeadline(error) {
  if (!error) return '';
  const lines = String(error).split('\n').map((line) => line.trim()).filter(Boolean);
  if (!lines.length) return '';
  return lines[0].startsWith('Traceback') ? lines[lines.length - 1] : lines[0];
}
