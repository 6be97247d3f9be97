// An execution's attempts over time, one row per task: `timelineRows` gathers them (pure,
// tested in Node), `renderTimeline` draws them as an SVG Gantt chart.

import { ellipsis, errorHeadline, formatDuration, formatTime, mappedTaskOf, parseTime } from './format.js';

/** Steps the time axis may tick at, in milliseconds. */
const STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  1000, 2000, 5000, 10000, 15000, 30000,
  60000, 120000, 300000, 600000, 900000, 1800000,
  3600000, 7200000, 10800000, 21600000, 43200000, 86400000,
];

const GEOMETRY = Object.freeze({ labelWidth: 160, axisHeight: 30, rowHeight: 24, barHeight: 12, margin: 8, tickSpacing: 90 });

/**
 * The timeline's rows: one per task in the order given, each with a bar per attempt (from its
 * start to its end, or to `now` while it runs) and a wait per attempt (from ready to start).
 * Instances of a mapped task are folded into the mapped task's row.
 * @param {{tasks: Array<object>}} execution as GET /api/executions/{id} answers it
 * @param {number} now milliseconds since the epoch
 * @returns {Array<{id: string, status: string, instances: number,
 *   bars: Array<{taskId: string, attempt: number, start: number, end: number, status: string,
 *     worker: string | null, running: boolean, error: string | null}>,
 *   waits: Array<{taskId: string, start: number, end: number}>}>}
 */
export function timelineRows(execution, now) {
  const tasks = execution.tasks || [];
  const ids = new Set(tasks.map((task) => task.id));
  const rows = [];
  const byId = new Map();
  const parentOf = (task) => {
    const parent = task.map_index != null ? mappedTaskOf(task.id) : null;
    return parent != null && ids.has(parent) && parent !== task.id ? parent : null;
  };
  for (const task of tasks) {
    if (parentOf(task) != null || byId.has(task.id)) continue;
    const row = { id: task.id, status: task.status, instances: 0, bars: [], waits: [] };
    rows.push(row);
    byId.set(task.id, row);
  }
  for (const task of tasks) {
    const parent = parentOf(task);
    const row = byId.get(parent ?? task.id);
    if (parent != null) row.instances += 1;
    addAttempts(row, task, now);
  }
  return rows;
}

function addAttempts(row, task, now) {
  let lastEnd = null;
  for (const attempt of task.attempt_history || []) {
    const start = parseTime(attempt.started_at);
    if (start == null) continue;
    const running = attempt.status === 'Running' && !attempt.finished_at;
    const end = running ? Math.max(start, now) : (parseTime(attempt.finished_at) ?? start);
    row.bars.push({
      taskId: task.id, attempt: attempt.number, start, end, status: attempt.status,
      worker: attempt.worker ?? null, running, error: attempt.error ?? null,
    });
    const ready = parseTime(attempt.ready_at);
    if (ready != null && ready < start) row.waits.push({ taskId: task.id, start: ready, end: start });
    lastEnd = end;
  }
  // A task waiting for a worker: its wait grows until it starts.
  if (task.status === 'Ready') {
    const ready = parseTime(task.ready_at);
    const start = lastEnd ?? ready;
    if (start != null && start < now) row.waits.push({ taskId: task.id, start, end: now });
  }
}

/**
 * The span the timeline shows: from the execution's creation (or its earliest bar) to its end
 * (or `now` while it runs, or the latest bar).
 * @param {object} execution
 * @param {ReturnType<typeof timelineRows>} rows
 * @param {number} now
 * @returns {{start: number, end: number}}
 */
export function timelineSpan(execution, rows, now) {
  let start = parseTime(execution.created_at) ?? Infinity;
  let end = parseTime(execution.finished_at) ?? (execution.finished_at ? -Infinity : now);
  for (const row of rows) {
    for (const item of [...row.bars, ...row.waits]) {
      start = Math.min(start, item.start);
      end = Math.max(end, item.end);
    }
  }
  if (!Number.isFinite(start)) start = now;
  if (!Number.isFinite(end) || end <= start) end = start + 1000;
  return { start, end };
}

/**
 * Tick offsets (milliseconds from the start) for an axis of `duration`, at a round step giving
 * at most `count` ticks.
 * @param {number} duration
 * @param {number} count
 * @returns {number[]}
 */
export function timeTicks(duration, count) {
  const step = STEPS.find((candidate) => duration / candidate <= count) ?? Math.ceil(duration / count / 86400000) * 86400000;
  const ticks = [];
  for (let offset = 0; offset <= duration; offset += step) ticks.push(offset);
  return ticks;
}

/**
 * Draws an execution's timeline into a container, which becomes a horizontally scrollable box.
 * @param {HTMLElement} container emptied first
 * @param {object} execution as GET /api/executions/{id} answers it
 * @param {{now?: number, onSelect?: function(string): void, selected?: string | null}} [options]
 *   the time running bars end at; called with the task id of a clicked row or bar
 */
export function renderTimeline(container, execution, options = {}) {
  const now = options.now ?? Date.now();
  const { onSelect, selected } = options;
  const rows = timelineRows(execution, now);
  const { scrollLeft } = container;
  container.classList.add('timeline-scroll');
  container.replaceChildren();
  if (!rows.some((row) => row.bars.length || row.waits.length)) {
    const empty = document.createElement('p');
    empty.className = 'notice';
    empty.textContent = 'No task has started yet.';
    container.append(empty);
    return;
  }
  const { labelWidth, axisHeight, rowHeight, margin, tickSpacing } = GEOMETRY;
  const span = timelineSpan(execution, rows, now);
  const chartWidth = Math.max(480, (container.clientWidth || 800) - labelWidth - margin * 2 - 4);
  const width = labelWidth + chartWidth + margin * 2;
  const height = axisHeight + rows.length * rowHeight + margin;
  const scale = chartWidth / (span.end - span.start);
  const xOf = (time) => labelWidth + margin + (time - span.start) * scale;
  const svg = make('svg', {
    class: 'timeline', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group', 'aria-label': 'Timeline of the attempts',
  });

  const axis = make('g', { class: 'timeline-axis' });
  axis.append(text(margin, 18, `from ${formatTime(span.start)}`, 'timeline-start'));
  for (const offset of timeTicks(span.end - span.start, Math.max(2, Math.floor(chartWidth / tickSpacing)))) {
    const x = xOf(span.start + offset);
    axis.append(make('line', { x1: x, x2: x, y1: axisHeight - 6, y2: height - margin, class: 'timeline-grid' }));
    const label = offset === 0 ? '0' : `+${formatDuration(offset)}`;
    // A label that would run past the right edge is left out; its grid line stays.
    if (x + 3 + label.length * 6.5 <= width) axis.append(text(x + 3, 18, label, 'timeline-tick'));
  }
  svg.append(axis);

  rows.forEach((row, index) => svg.append(drawRow(row, axisHeight + index * rowHeight, { xOf, width, selected, onSelect })));

  if (!execution.finished_at) {
    const x = xOf(Math.min(now, span.end));
    svg.append(make('line', { x1: x, x2: x, y1: axisHeight - 6, y2: height - margin, class: 'timeline-now' }));
  }
  container.append(svg);
  container.scrollLeft = scrollLeft;
}

function drawRow(row, top, context) {
  const { rowHeight, barHeight, margin, labelWidth } = GEOMETRY;
  const { xOf, width, selected, onSelect } = context;
  const group = make('g', { class: row.id === selected ? 'timeline-row selected' : 'timeline-row', 'data-task-id': row.id });
  group.append(make('rect', { x: 0, y: top, width, height: rowHeight, class: 'timeline-band' }));
  const name = row.instances ? `${ellipsis(row.id, 16)} ×${row.instances}` : ellipsis(row.id, 22);
  const label = text(margin, top + rowHeight / 2 + 4, name, 'timeline-label');
  const labelTitle = make('title', {});
  labelTitle.textContent = `${row.id} · ${row.status}`;
  label.append(labelTitle);
  group.append(label);
  const middle = top + rowHeight / 2;
  for (const wait of row.waits) {
    const line = make('line', { x1: xOf(wait.start), x2: Math.max(xOf(wait.end), xOf(wait.start) + 1), y1: middle, y2: middle, class: 'timeline-wait' });
    const title = make('title', {});
    title.textContent = `${wait.taskId} · waited ${formatDuration(wait.end - wait.start)} for a worker`;
    line.append(title);
    group.append(line);
  }
  for (const bar of row.bars) {
    const x = Math.max(xOf(bar.start), labelWidth + margin);
    const rect = make('rect', {
      x, y: middle - barHeight / 2, width: Math.max(2, xOf(bar.end) - x), height: barHeight, rx: 2,
      class: `timeline-bar status-${bar.status}${bar.running ? ' running' : ''}`, 'data-task-id': bar.taskId, 'data-attempt': bar.attempt,
    });
    const title = make('title', {});
    title.textContent = [
      bar.taskId, `attempt ${bar.attempt}`, bar.worker ? `worker ${bar.worker}` : 'no worker recorded',
      `${formatDuration(bar.end - bar.start)}${bar.running ? ' so far' : ''}`, bar.status, bar.error && ellipsis(errorHeadline(bar.error), 120),
    ].filter(Boolean).join(' · ');
    rect.append(title);
    if (onSelect) {
      rect.addEventListener('click', (event) => {
        event.stopPropagation();
        onSelect(bar.taskId);
      });
    }
    group.append(rect);
  }
  if (onSelect) {
    group.setAttribute('tabindex', '0');
    group.setAttribute('role', 'button');
    group.setAttribute('aria-label', `${row.id}: ${row.status}`);
    group.addEventListener('click', () => onSelect(row.id));
    group.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onSelect(row.id);
      }
    });
  }
  return group;
}

function text(x, y, content, className) {
  const node = make('text', { x, y, class: className });
  node.textContent = content;
  return node;
}

function make(tag, attributes) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value != null) node.setAttribute(name, String(value));
  }
  return node;
}
