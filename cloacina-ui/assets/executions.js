// The list of executions: filters kept in the hash (so a filtered list can be linked), keyset
// paging, and a first page that follows new executions.

import { getJson, isAbort, showError } from './api.js';
import { element, executionDuration, executionLink, notice, statusBadge, table, timeElement, workflowLink } from './dom.js';
import { ellipsis, errorHeadline, localInputToRfc3339, rfc3339ToLocalInput } from './format.js';

/** The statuses an execution can have, for the filter. */
const EXECUTION_STATUSES = ['Pending', 'Running', 'Completed', 'Failed', 'Cancelled'];
const PAGE_SIZE = 50;
const REFRESH_INTERVAL = 5000;

/**
 * Table rows for executions, one `<tr data-execution-id>` each.
 * @param {Array<{id: string, workflow: string, status: string, error: string | null, created_at: string, finished_at: string | null}>} executions
 * @returns {HTMLElement[]}
 */
export function executionRows(executions) {
  const now = Date.now();
  return executions.map((execution) => {
    return element('tr', { 'data-execution-id': execution.id }, [
      element('td', {}, [statusBadge(execution.status)]),
      element('td', {}, [executionLink(execution.id)]),
      element('td', {}, [workflowLink(execution.workflow)]),
      element('td', { class: 'nowrap' }, [timeElement(execution.created_at)]),
      element('td', { class: 'nowrap' }, [executionDuration(execution, now)]),
      element('td', { class: 'error-cell', title: execution.error || null, text: ellipsis(errorHeadline(execution.error), 80) }),
    ]);
  });
}

/**
 * A table of executions (the list, a workflow's recent ones).
 * @param {Array<object>} executions summaries as the API gives them
 * @param {string} [empty] the text shown when there is none
 * @returns {HTMLElement}
 */
export function executionsTable(executions, empty = 'No executions.') {
  return table(['Status', 'Execution', 'Workflow', 'Created', 'Duration', 'Error'], executionRows(executions), { empty, label: 'Executions' });
}

/**
 * Renders the executions list (`#/?workflow=...&status=...&since=...&until=...`).
 * @param {{main: HTMLElement, query: URLSearchParams, signal: AbortSignal, onLeave: function(function): void}} page
 */
export async function executionsPage(page) {
  document.title = 'Executions · Cloacina';
  const filters = {
    workflow: page.query.get('workflow') || '',
    status: page.query.get('status') || '',
    since: page.query.get('since') || '',
    until: page.query.get('until') || '',
  };
  const results = element('div', { class: 'results' }, [notice('Loading…')]);
  const paging = { cursor: null, previous: [], loading: false, generation: 0 };
  const newer = element('button', { type: 'button', 'data-action': 'newer', disabled: true, text: '← Newer' });
  const older = element('button', { type: 'button', 'data-action': 'older', disabled: true, text: 'Older →' });
  const position = element('span', { class: 'page-position' });
  let next = null;

  // The reader's clicks always load; the refresh skips a turn while a load is under way, and
  // an answer overtaken by a later request is dropped.
  const load = async (quiet) => {
    if (quiet && paging.loading) return;
    paging.generation += 1;
    const generation = paging.generation;
    paging.loading = true;
    try {
      const answer = await getJson('/api/executions', {
        params: { ...filters, limit: PAGE_SIZE, cursor: paging.cursor }, signal: page.signal,
      });
      if (generation !== paging.generation) return;
      next = answer.next_cursor;
      const empty = Object.values(filters).some(Boolean) ? 'No execution matches these filters.' : 'No executions yet.';
      results.replaceChildren(executionsTable(answer.executions, empty));
      newer.disabled = paging.previous.length === 0;
      older.disabled = !next;
      position.textContent = paging.previous.length || next ? `Page ${paging.previous.length + 1}` : '';
    } catch (error) {
      if (isAbort(error)) return;
      if (!quiet) results.replaceChildren(notice('The executions could not be loaded.'));
      showError(error);
    } finally {
      if (generation === paging.generation) paging.loading = false;
    }
  };

  older.addEventListener('click', () => {
    if (!next) return;
    paging.previous.push(paging.cursor);
    paging.cursor = next;
    load(false);
  });
  newer.addEventListener('click', () => {
    if (!paging.previous.length) return;
    paging.cursor = paging.previous.pop();
    load(false);
  });

  page.main.append(
    element('h1', { text: 'Executions' }),
    filterForm(filters, page),
    results,
    element('nav', { class: 'paging', 'aria-label': 'Pages' }, [newer, position, older]),
  );
  const timer = setInterval(() => {
    if (paging.cursor === null && document.visibilityState === 'visible') load(true);
  }, REFRESH_INTERVAL);
  page.onLeave(() => clearInterval(timer));
  await load(false);
}

function filterForm(filters, page) {
  const workflowSelect = element('select', { name: 'workflow', id: 'filter-workflow' }, [
    element('option', { value: '', text: 'All workflows' }),
    filters.workflow ? element('option', { value: filters.workflow, text: filters.workflow }) : null,
  ]);
  workflowSelect.value = filters.workflow;
  const statusSelect = element('select', { name: 'status', id: 'filter-status' }, [
    element('option', { value: '', text: 'Any status' }),
    ...EXECUTION_STATUSES.map((status) => element('option', { value: status, text: status })),
  ]);
  statusSelect.value = filters.status;
  const since = element('input', { type: 'datetime-local', name: 'since', id: 'filter-since', value: rfc3339ToLocalInput(filters.since) });
  const until = element('input', { type: 'datetime-local', name: 'until', id: 'filter-until', value: rfc3339ToLocalInput(filters.until) });

  const apply = () => {
    const query = new URLSearchParams();
    const wanted = {
      workflow: workflowSelect.value,
      status: statusSelect.value,
      since: localInputToRfc3339(since.value),
      until: localInputToRfc3339(until.value),
    };
    for (const [name, value] of Object.entries(wanted)) if (value) query.set(name, value);
    const text = query.toString();
    window.location.hash = `#/${text ? `?${text}` : ''}`;
  };
  const form = element('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the executions' }, [
    labelled('Workflow', workflowSelect),
    labelled('Status', statusSelect),
    labelled('Created since', since),
    labelled('Created until', until),
    element('div', { class: 'filter-actions' }, [
      element('button', { type: 'submit', text: 'Apply' }),
      Object.values(filters).some(Boolean) ? element('a', { href: '#/', class: 'button-link', text: 'Clear' }) : null,
    ]),
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apply();
  });
  workflowSelect.addEventListener('change', apply);
  statusSelect.addEventListener('change', apply);

  getJson('/api/workflows', { signal: page.signal })
    .then((answer) => {
      const names = answer.workflows.map((workflow) => workflow.name).filter((name) => name !== filters.workflow);
      for (const name of names.sort()) workflowSelect.append(element('option', { value: name, text: name }));
      workflowSelect.value = filters.workflow;
    })
    .catch(showError);
  return form;
}

function labelled(text, control) {
  return element('label', { for: control.id, class: 'field' }, [element('span', { text }), control]);
}
