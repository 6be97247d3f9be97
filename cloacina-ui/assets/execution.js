// One execution: its header and actions, DAG, timeline, task panel and contexts, kept live
// from the execution's event stream while it runs.

import { getJson, isAbort, postAction, serverInfo, showError } from './api.js';
import { renderDag } from './dag.js';
import { definitionList, element, executionDuration, executionLink, notice, statusBadge, timeElement, workflowLink } from './dom.js';
import { FINISHED_STATUSES, shortId } from './format.js';
import { createTaskPanel } from './task.js';
import { renderTimeline } from './timeline.js';
import { renderTree } from './tree.js';

/** The shortest time between two fetches of the execution while events arrive. */
const REFRESH_SPACING = 250;

/**
 * Wraps an async function so that calls coalesce: at most one run in flight, runs at least
 * `spacing` ms apart, and a call made meanwhile leads to exactly one more run afterwards.
 * @param {function(): Promise<void>} run
 * @param {number} spacing milliseconds
 * @returns {{request: function(): void, cancel: function(): void}}
 */
export function coalesce(run, spacing) {
  let pending = false;
  let running = false;
  let timer = null;
  let lastStart = -Infinity;
  const pump = () => {
    if (!pending || running || timer) return;
    const wait = lastStart + spacing - Date.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = null;
        pump();
      }, wait);
      return;
    }
    pending = false;
    running = true;
    lastStart = Date.now();
    Promise.resolve().then(run).catch(showError).finally(() => {
      running = false;
      pump();
    });
  };
  return {
    request: () => {
      pending = true;
      pump();
    },
    cancel: () => {
      pending = false;
      clearTimeout(timer);
      timer = null;
    },
  };
}

/**
 * Renders an execution's page (`#/executions/<id>?task=<task id>`).
 * @param {{main: HTMLElement, query: URLSearchParams, signal: AbortSignal, onLeave: function(function): void}} page
 * @param {string} id the execution's id
 */
export async function executionPage(page, id) {
  document.title = `Execution ${shortId(id)} · Cloacina`;
  const path = `/api/executions/${encodeURIComponent(id)}`;
  const state = { execution: null, selected: page.query.get('task'), readOnly: true, contexts: {} };
  const header = element('header', { class: 'execution-header' }, [notice('Loading…')]);
  const actions = element('div', { class: 'actions' });
  const dag = element('div');
  const timeline = element('div');
  const panelSection = element('section', { 'data-panel': 'task', class: 'panel', 'aria-live': 'polite' });
  const initial = element('section', { 'data-context': 'initial', class: 'context' });
  const final = element('section', { 'data-context': 'final', class: 'context' });
  page.main.append(
    header, actions,
    element('section', { class: 'graph' }, [element('h2', { text: 'Graph' }), dag]),
    element('section', { class: 'timeline-section' }, [element('h2', { text: 'Timeline' }), timeline]),
    panelSection, initial, final,
  );

  const select = (taskId, scroll) => {
    state.selected = taskId;
    const query = new URLSearchParams(page.query);
    if (taskId) query.set('task', taskId);
    else query.delete('task');
    const text = query.toString();
    window.history.replaceState(null, '', `#/executions/${encodeURIComponent(id)}${text ? `?${text}` : ''}`);
    drawGraphs();
    if (taskId && state.execution) {
      panel.show(taskId, state.execution);
      if (scroll) panelSection.scrollIntoView({ behavior: 'smooth', block: 'start' });
    }
  };
  const panel = createTaskPanel(panelSection, { executionId: id, signal: page.signal, onSelect: (taskId) => select(taskId, false) });

  const drawTimeline = () => {
    if (!state.execution) return;
    renderTimeline(timeline, state.execution, { now: Date.now(), selected: state.selected, onSelect: (taskId) => select(taskId, true) });
  };
  const drawGraphs = () => {
    if (!state.execution) return;
    renderDag(dag, state.execution.tasks, { selected: state.selected, onSelect: (taskId) => select(taskId, true) });
    drawTimeline();
  };

  const draw = () => {
    const execution = state.execution;
    drawHeader(header, execution);
    drawActions(actions, execution, state.readOnly, { path, refresh: () => live.request(), signal: page.signal });
    drawGraphs();
    drawContext(initial, 'Initial context', execution.initial_context, state.contexts);
    const finalTitle = FINISHED_STATUSES.has(execution.status) ? 'Final context' : 'Context so far';
    drawContext(final, finalTitle, execution.context, state.contexts);
    panel.update(execution);
  };

  const fetchExecution = async () => {
    state.execution = await getJson(path, { signal: page.signal });
    draw();
  };
  const live = coalesce(() => fetchExecution().catch((error) => {
    if (!isAbort(error)) throw error;
  }), REFRESH_SPACING);
  page.onLeave(live.cancel);

  try {
    const [execution, info] = await Promise.all([
      getJson(path, { signal: page.signal }),
      serverInfo().catch((error) => {
        showError(error);
        return { read_only: true };
      }),
    ]);
    state.execution = execution;
    state.readOnly = Boolean(info.read_only);
  } catch (error) {
    if (isAbort(error)) return;
    header.replaceChildren(element('h1', { text: 'Execution' }), notice(error.code === 'not_found'
      ? `There is no execution ${id}.` : 'This execution could not be loaded.'));
    page.main.replaceChildren(header);
    showError(error);
    return;
  }
  draw();
  if (state.selected) panel.show(state.selected, state.execution);
  if (!FINISHED_STATUSES.has(state.execution.status)) follow(page, id, live, () => state.execution, drawTimeline, header);
}

/** Follows a running execution: its event stream, and a clock that grows the running bars. */
function follow(page, id, live, current, drawTimeline, header) {
  const source = new EventSource(`/api/executions/${encodeURIComponent(id)}/stream`);
  const clock = setInterval(() => {
    const execution = current();
    if (FINISHED_STATUSES.has(execution.status)) {
      clearInterval(clock);
      return;
    }
    drawTimeline();
    const duration = header.querySelector('[data-role=duration]');
    if (duration) duration.textContent = executionDuration(execution);
  }, 1000);
  source.addEventListener('execution-event', () => live.request());
  source.addEventListener('end', () => {
    source.close();
    live.request();
  });
  source.addEventListener('error', () => {
    // The browser reconnects by itself (resuming after the last event) unless the server
    // refused the stream outright.
    if (source.readyState === EventSource.CLOSED && !page.signal.aborted) {
      showError(new Error('Live updates stopped; reload the page to follow this execution again.'));
    }
  });
  page.onLeave(() => {
    source.close();
    clearInterval(clock);
  });
}

function drawHeader(header, execution) {
  const version = execution.workflow_version || '';
  header.replaceChildren(
    element('h1', {}, [
      statusBadge(execution.status), ' ',
      workflowLink(execution.workflow), ' ',
      element('span', { class: 'version mono', title: version, text: version.length > 12 ? version.slice(0, 12) : version }),
    ]),
    definitionList([
      ['Execution', element('span', { class: 'mono', text: execution.id })],
      ['Created', timeElement(execution.created_at)],
      ['Started', execution.started_at ? timeElement(execution.started_at) : null],
      ['Finished', execution.finished_at ? timeElement(execution.finished_at) : null],
      ['Duration', element('span', { 'data-role': 'duration', text: executionDuration(execution) })],
      ['Key', execution.key ? element('span', { class: 'mono', text: execution.key }) : null],
      ['Re-run of', execution.rerun_of ? executionLink(execution.rerun_of) : null],
    ]),
    ...(execution.error ? [element('pre', { class: 'error-text', text: execution.error })] : []),
  );
}

function drawActions(actions, execution, readOnly, { path, refresh, signal }) {
  actions.replaceChildren();
  if (readOnly) return;
  if (execution.status === 'Pending' || execution.status === 'Running') {
    actions.append(actionButton('cancel', 'Cancel', async () => {
      await postAction(`${path}/cancel`, { signal });
      refresh();
    }));
  }
  if (execution.status === 'Failed' || execution.status === 'Cancelled') {
    actions.append(actionButton('rerun', 'Re-run from failure', async () => {
      const created = await postAction(`${path}/rerun`, { signal });
      window.location.hash = `#/executions/${encodeURIComponent(created.id)}`;
    }));
  }
}

function actionButton(action, text, run) {
  const button = element('button', { type: 'button', 'data-action': action, class: `action-${action}`, text });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await run();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** Redraws a context's tree only when its value changed, so opened branches stay open. */
function drawContext(section, title, value, drawn) {
  const kind = section.dataset.context;
  const text = JSON.stringify(value ?? null);
  if (drawn[kind] === text && section.querySelector('h2')?.textContent === title) return;
  drawn[kind] = text;
  const box = element('div', { class: 'tree-box' });
  if (value == null || (typeof value === 'object' && !Array.isArray(value) && !Object.keys(value).length)) {
    box.append(notice('Empty.'));
  } else {
    renderTree(box, value);
  }
  section.replaceChildren(element('h2', { text: title }), box);
}
