// The workflows: the list of those registered or seen in stored executions, and one
// workflow's page with each version's graph and its recent executions.

import { getJson, isAbort, showError } from './api.js';
import { renderDag } from './dag.js';
import { element, notice, table, timeElement, workflowLink } from './dom.js';
import { parseTime } from './format.js';
import { executionsTable } from './executions.js';

/**
 * The time a workflow last ran: the latest `last_created_at` of its versions.
 * @param {Array<{last_created_at: string | null}>} versions
 * @returns {string | null}
 */
export function lastRun(versions) {
  let latest = null;
  for (const version of versions) {
    if (version.last_created_at && (latest == null || parseTime(version.last_created_at) > parseTime(latest))) {
      latest = version.last_created_at;
    }
  }
  return latest;
}

/**
 * Renders the list of workflows (`#/workflows`).
 * @param {{main: HTMLElement, signal: AbortSignal}} page
 */
export async function workflowsPage(page) {
  document.title = 'Workflows · Cloacina';
  const results = element('div', {}, [notice('Loading…')]);
  page.main.append(element('h1', { text: 'Workflows' }), results);
  try {
    const answer = await getJson('/api/workflows', { signal: page.signal });
    const rows = answer.workflows.map((workflow) => {
      const executions = workflow.versions.reduce((sum, version) => sum + version.executions, 0);
      const latest = lastRun(workflow.versions);
      return element('tr', { 'data-workflow': workflow.name }, [
        element('td', {}, [workflowLink(workflow.name)]),
        element('td', {}, [element('span', {
          class: workflow.registered ? 'tag registered' : 'tag', text: workflow.registered ? 'registered' : 'not registered',
        })]),
        element('td', { class: 'number', text: String(workflow.versions.length) }),
        element('td', { class: 'number' }, [executions
          ? element('a', { href: `#/?workflow=${encodeURIComponent(workflow.name)}`, text: String(executions) })
          : '0']),
        element('td', { class: 'nowrap' }, [timeElement(latest, { relative: true })]),
      ]);
    });
    results.replaceChildren(table(['Workflow', 'Definition', 'Versions', 'Executions', 'Last run'], rows, {
      empty: 'No workflow is registered or has run yet.', label: 'Workflows',
    }));
  } catch (error) {
    if (isAbort(error)) return;
    results.replaceChildren(notice('The workflows could not be loaded.'));
    showError(error);
  }
}

/**
 * Tasks to draw from a version's graph (`{"task": ["dependency", ...]}`), without statuses.
 * @param {Object<string, string[]> | null | undefined} graph
 * @returns {Array<{id: string, dependencies: string[], status: null, map_index: null}>}
 */
export function graphTasks(graph) {
  return Object.entries(graph || {}).map(([id, dependencies]) => ({
    id, dependencies: Array.isArray(dependencies) ? dependencies : [], status: null, map_index: null,
  }));
}

/**
 * Renders a workflow's page (`#/workflows/<name>?version=<version>`).
 * @param {{main: HTMLElement, query: URLSearchParams, signal: AbortSignal}} page
 * @param {string} name the workflow's name
 */
export async function workflowPage(page, name) {
  document.title = `${name} · Cloacina`;
  const heading = element('h1', {}, ['Workflow ', element('span', { class: 'mono', text: name })]);
  const body = element('div', {}, [notice('Loading…')]);
  page.main.append(heading, body);
  let workflow;
  try {
    workflow = await getJson(`/api/workflows/${encodeURIComponent(name)}`, { signal: page.signal });
  } catch (error) {
    if (isAbort(error)) return;
    body.replaceChildren(notice(error.code === 'not_found' ? `There is no workflow ${name}.` : 'This workflow could not be loaded.'));
    showError(error);
    return;
  }
  const versions = workflow.versions || [];
  const graphBox = element('div');
  const versionFacts = element('p', { class: 'version-facts' });
  const selectedLine = element('p', { class: 'selected-task' });
  const versionSelect = element('select', { id: 'workflow-version', name: 'version' }, versions.map((version, index) =>
    element('option', { value: version.version, text: `${version.version.slice(0, 12)}${index === 0 ? ' (newest)' : ''}` })));
  const wanted = page.query.get('version');
  if (wanted && versions.some((version) => version.version === wanted)) versionSelect.value = wanted;

  const drawVersion = (selected) => {
    const version = versions.find((candidate) => candidate.version === versionSelect.value);
    if (!version) {
      graphBox.replaceChildren(notice('No version of this workflow is known.'));
      return;
    }
    versionFacts.replaceChildren(
      `${version.executions} execution${version.executions === 1 ? '' : 's'}`,
      version.first_created_at ? ', first ' : '', version.first_created_at ? timeElement(version.first_created_at) : '',
      version.last_created_at ? ', last ' : '', version.last_created_at ? timeElement(version.last_created_at) : '',
      version.executions ? ' · ' : '',
      version.executions ? element('a', { href: `#/?workflow=${encodeURIComponent(name)}`, text: 'see them' }) : '',
    );
    const tasks = graphTasks(version.graph);
    if (!tasks.length) {
      graphBox.replaceChildren(notice('The graph of this version is not known.'));
      return;
    }
    renderDag(graphBox, tasks, {
      selected,
      onSelect: (taskId) => {
        const task = tasks.find((candidate) => candidate.id === taskId);
        selectedLine.textContent = task.dependencies.length
          ? `${taskId} depends on ${task.dependencies.join(', ')}.` : `${taskId} depends on no other task.`;
        drawVersion(taskId);
      },
    });
  };
  versionSelect.addEventListener('change', () => {
    selectedLine.textContent = '';
    const hash = `#/workflows/${encodeURIComponent(name)}?version=${encodeURIComponent(versionSelect.value)}`;
    window.history.replaceState(null, '', hash);
    drawVersion(null);
  });

  body.replaceChildren(
    element('p', {}, [
      element('span', { class: workflow.registered ? 'tag registered' : 'tag', text: workflow.registered ? 'registered' : 'not registered' }),
      workflow.description ? ` ${workflow.description}` : '',
    ]),
    element('section', { class: 'graph' }, [
      element('h2', { text: 'Graph' }),
      versions.length
        ? element('label', { class: 'field inline', for: 'workflow-version' }, [element('span', { text: 'Version' }), versionSelect])
        : null,
      versionFacts,
      graphBox,
      selectedLine,
    ]),
    element('section', {}, [element('h2', { text: 'Recent executions' }), executionsTable(workflow.recent || [], 'This workflow has not run yet.')]),
  );
  drawVersion(null);
}
