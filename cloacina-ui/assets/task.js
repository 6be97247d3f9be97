// The panel showing one task of an execution: its attempts, error, logs, output and input.

import { getJson, isAbort, showError } from './api.js';
import { definitionList, element, notice, statusBadge, table, timeElement } from './dom.js';
import { elapsed, formatDuration } from './format.js';
import { renderTree } from './tree.js';

/**
 * Creates the task panel in a `<section data-panel=task>`, hidden until a task is shown.
 * @param {HTMLElement} section
 * @param {{executionId: string, signal: AbortSignal, onSelect: function(string | null): void}} options
 *   the execution; the page's signal; called with a task id to show (an instance of a mapped
 *   task) or null when the panel is closed
 * @returns {{show: function(string, object): Promise<void>, update: function(object): void, hide: function(): void}}
 *   `show` loads a task, `update` reloads it if the execution's new state changed it
 */
export function createTaskPanel(section, options) {
  const { executionId, signal, onSelect } = options;
  section.hidden = true;
  let shownId = null;
  let signature = null;
  let loading = null;

  const show = async (taskId, execution) => {
    const task = execution.tasks.find((candidate) => candidate.id === taskId);
    shownId = taskId;
    signature = task ? signatureOf(task) : null;
    if (loading) loading.abort();
    const controller = new AbortController();
    loading = controller;
    signal.addEventListener('abort', () => controller.abort(), { once: true });
    section.hidden = false;
    section.dataset.taskId = taskId;
    if (!section.childElementCount) section.append(notice('Loading…'));
    try {
      const path = `/api/executions/${encodeURIComponent(executionId)}/tasks/${encodeURIComponent(taskId)}`;
      const detail = await getJson(path, { signal: controller.signal });
      if (shownId !== taskId) return;
      section.replaceChildren(...panelContent(detail, execution, { close: hide, onSelect }));
    } catch (error) {
      if (isAbort(error)) return;
      section.replaceChildren(heading(taskId, hide), notice('This task could not be loaded.'));
      showError(error);
    }
  };

  const hide = () => {
    if (loading) loading.abort();
    shownId = null;
    section.hidden = true;
    section.replaceChildren();
    delete section.dataset.taskId;
    onSelect(null);
  };

  const update = (execution) => {
    if (shownId == null) return;
    const task = execution.tasks.find((candidate) => candidate.id === shownId);
    if (task && signatureOf(task) !== signature) show(shownId, execution);
  };

  return { show, update, hide };
}

function signatureOf(task) {
  const last = task.attempt_history[task.attempt_history.length - 1];
  return JSON.stringify([task.status, task.attempts, task.finished_at, last && last.status, task.output != null]);
}

function heading(taskId, close) {
  return element('div', { class: 'panel-heading' }, [
    element('h2', {}, ['Task ', element('span', { class: 'mono', text: taskId })]),
    element('button', { type: 'button', class: 'quiet', 'data-action': 'close-task', onclick: close, text: 'Close' }),
  ]);
}

function panelContent(detail, execution, { close, onSelect }) {
  const task = detail.task;
  const parts = [heading(task.id, close)];
  parts.push(definitionList([
    ['Status', statusBadge(task.status)],
    ['Attempts', String(task.attempts)],
    ['Recoveries', task.recoveries ? String(task.recoveries) : null],
    ['Ready', task.ready_at ? timeElement(task.ready_at) : null],
    ['Started', task.started_at ? timeElement(task.started_at) : null],
    ['Finished', task.finished_at ? timeElement(task.finished_at) : null],
    ['Ran for', task.started_at ? formatDuration(elapsed(task.started_at, task.finished_at)) : null],
    ['Depends on', task.dependencies.length ? task.dependencies.join(', ') : null],
    ['Map index', task.map_index != null ? String(task.map_index) : null],
  ]));
  const instances = execution.tasks.filter((candidate) => candidate.map_index != null && candidate.id.startsWith(`${task.id}[`));
  if (task.map_index == null && instances.length) {
    parts.push(element('h3', { text: `Instances (${instances.length})` }), element('ul', { class: 'instances' }, instances.map((instance) =>
      element('li', {}, [element('button', {
        type: 'button', class: `instance status-${instance.status}`, title: `${instance.id}: ${instance.status}`,
        onclick: () => onSelect(instance.id), text: `[${instance.map_index}]`,
      })]))));
  }
  if (task.error) parts.push(element('h3', { text: 'Error' }), element('pre', { class: 'error-text', text: task.error }));
  parts.push(element('h3', { text: 'Attempts' }), attemptsTable(task.attempt_history));
  parts.push(element('h3', { text: 'Logs' }), logsTable(detail.logs));
  parts.push(element('h3', { text: 'Output' }), treeOrNotice(task.output, 'No output yet.'));
  parts.push(element('h3', { text: 'Input' }), treeOrNotice(detail.input, 'No input recorded.'));
  return parts;
}

function attemptsTable(attempts) {
  const rows = attempts.map((attempt) => element('tr', { 'data-attempt': attempt.number }, [
    element('td', { text: String(attempt.number) }),
    element('td', {}, [statusBadge(attempt.status)]),
    element('td', { class: 'mono', text: attempt.worker || '—' }),
    element('td', { class: 'nowrap' }, [timeElement(attempt.ready_at)]),
    element('td', { class: 'nowrap' }, [timeElement(attempt.started_at)]),
    element('td', { class: 'nowrap' }, [timeElement(attempt.finished_at)]),
    element('td', { class: 'nowrap', text: formatDuration(elapsed(attempt.started_at, attempt.finished_at)) }),
    element('td', { class: 'error-cell' }, [attempt.error ? element('pre', { class: 'error-text compact', text: attempt.error }) : '']),
  ]));
  return table(['#', 'Status', 'Worker', 'Ready', 'Started', 'Finished', 'Duration', 'Error'], rows, {
    empty: 'Not started yet.', label: 'Attempts',
  });
}

function logsTable(logs) {
  const rows = logs.map((log) => element('tr', { class: `log-level-${String(log.level_name).toLowerCase()}` }, [
    element('td', { class: 'nowrap' }, [timeElement(log.time)]),
    element('td', { class: 'mono', text: log.task_id }),
    element('td', { text: String(log.attempt) }),
    element('td', { class: 'log-level', text: log.level_name }),
    element('td', { class: 'mono', text: log.logger }),
    element('td', { class: 'log-message', text: log.message }),
  ]));
  return table(['Time', 'Task', 'Attempt', 'Level', 'Logger', 'Message'], rows, { empty: 'Nothing logged.', label: 'Logs' });
}

function treeOrNotice(value, empty) {
  if (value == null) return notice(empty);
  const box = element('div', { class: 'tree-box' });
  renderTree(box, value);
  return box;
}
