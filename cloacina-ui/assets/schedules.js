// The schedules: which workflows start by themselves, when, and what they last started.

import { getJson, isAbort, showError } from './api.js';
import { element, executionLink, notice, table, timeElement, workflowLink } from './dom.js';
import { renderTree } from './tree.js';

/**
 * Renders the list of schedules (`#/schedules`).
 * @param {{main: HTMLElement, signal: AbortSignal}} page
 */
export async function schedulesPage(page) {
  document.title = 'Schedules · Cloacina';
  const results = element('div', {}, [notice('Loading…')]);
  page.main.append(element('h1', { text: 'Schedules' }), results);
  try {
    const answer = await getJson('/api/schedules', { signal: page.signal });
    const rows = answer.schedules.map((schedule) => element('tr', { 'data-schedule': schedule.name }, [
      element('td', { class: 'mono', text: schedule.name }),
      element('td', {}, [workflowLink(schedule.workflow)]),
      element('td', { class: 'mono nowrap', text: schedule.cron }),
      element('td', { text: schedule.timezone }),
      element('td', {}, [element('span', { class: schedule.paused ? 'tag paused' : 'tag active', text: schedule.paused ? 'paused' : 'active' })]),
      element('td', { class: 'nowrap' }, [schedule.paused ? '—' : timeElement(schedule.next_fire_at, { relative: true })]),
      element('td', { class: 'nowrap' }, [timeElement(schedule.last_fired_at, { relative: true })]),
      element('td', {}, [schedule.last_execution_id ? executionLink(schedule.last_execution_id) : '—']),
      element('td', {}, [contextCell(schedule.context)]),
    ]));
    results.replaceChildren(table(['Name', 'Workflow', 'Cron', 'Time zone', 'State', 'Next fire', 'Last fire', 'Last execution', 'Context'], rows, {
      empty: 'No schedules.', label: 'Schedules',
    }));
  } catch (error) {
    if (isAbort(error)) return;
    results.replaceChildren(notice('The schedules could not be loaded.'));
    showError(error);
  }
}

function contextCell(context) {
  if (context == null || (typeof context === 'object' && !Array.isArray(context) && !Object.keys(context).length)) return '—';
  const box = element('div', { class: 'tree-box compact' });
  renderTree(box, context);
  const tree = box.querySelector('details');
  if (tree) tree.open = false;
  return box;
}
