// The timeline's rows: attempts as bars, running bars up to now, mapped instances folded.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { timelineRows, timelineSpan, timeTicks } from '../timeline.js';

/** An API time `seconds` after 18:00, with microseconds as the server writes them. */
const at = (seconds) => new Date(Date.UTC(2026, 11, 5, 18, 0, seconds)).toISOString().replace('.000Z', '.123456Z');
/** The same time in milliseconds, as the rows hold it. */
const moment = (seconds) => Date.UTC(2026, 11, 5, 18, 0, seconds) + 123;

function attempt(number, status, start, end, worker = 'worker-1') {
  return { number, status, ready_at: at(start - 1), started_at: at(start), finished_at: end == null ? null : at(end), worker, error: status === 'Failed' ? 'boom' : null };
}

function task(id, status, history, mapIndex = null) {
  return { id, status, dependencies: [], map_index: mapIndex, ready_at: history.length ? history[0].ready_at : null, attempt_history: history };
}

test('a retried task shows one bar per attempt', () => {
  const execution = {
    created_at: at(0), finished_at: at(30),
    tasks: [task('flaky', 'Completed', [attempt(1, 'Failed', 1, 3), attempt(2, 'Abandoned', 5, 6), attempt(3, 'Completed', 10, 12)])],
  };
  const [row] = timelineRows(execution, moment(100));
  assert.equal(row.id, 'flaky');
  assert.deepEqual(row.bars.map((bar) => [bar.attempt, bar.status, bar.start, bar.end]), [
    [1, 'Failed', moment(1), moment(3)], [2, 'Abandoned', moment(5), moment(6)], [3, 'Completed', moment(10), moment(12)],
  ]);
  assert.equal(row.bars[0].worker, 'worker-1');
  assert.deepEqual(row.waits.map((wait) => [wait.start, wait.end]), [[moment(0), moment(1)], [moment(4), moment(5)], [moment(9), moment(10)]]);
});

test('a running attempt ends at now', () => {
  const execution = { created_at: at(0), finished_at: null, tasks: [task('slow', 'Running', [attempt(1, 'Running', 2, null)])] };
  const [row] = timelineRows(execution, moment(20));
  assert.equal(row.bars[0].end, moment(20));
  assert.equal(row.bars[0].running, true);
  assert.deepEqual(timelineSpan(execution, [row], moment(20)), { start: moment(0), end: moment(20) });
});

test('rows keep the order of the tasks, and tasks not yet started have no bar', () => {
  const execution = {
    created_at: at(0), finished_at: null,
    tasks: [task('first', 'Completed', [attempt(1, 'Completed', 1, 2)]), task('second', 'Pending', []), task('third', 'Ready', [])],
  };
  execution.tasks[2].ready_at = at(3);
  const rows = timelineRows(execution, moment(8));
  assert.deepEqual(rows.map((row) => [row.id, row.bars.length]), [['first', 1], ['second', 0], ['third', 0]]);
  assert.deepEqual(rows[2].waits.map((wait) => [wait.start, wait.end]), [[moment(3), moment(8)]], 'a ready task waits until now');
});

test('mapped instances are folded into their mapped task\'s row', () => {
  const execution = {
    created_at: at(0), finished_at: null,
    tasks: [
      task('split', 'Completed', [attempt(1, 'Completed', 1, 2)]),
      task('work', 'Running', []),
      task('work[0]', 'Completed', [attempt(1, 'Completed', 3, 5)], 0),
      task('work[1]', 'Failed', [attempt(1, 'Failed', 3, 4), attempt(2, 'Failed', 6, 7)], 1),
      task('work[2]', 'Running', [attempt(1, 'Running', 4, null)], 2),
    ],
  };
  const rows = timelineRows(execution, moment(9));
  assert.deepEqual(rows.map((row) => row.id), ['split', 'work']);
  const work = rows[1];
  assert.equal(work.instances, 3);
  assert.deepEqual(work.bars.map((bar) => [bar.taskId, bar.attempt, bar.end]), [
    ['work[0]', 1, moment(5)], ['work[1]', 1, moment(4)], ['work[1]', 2, moment(7)], ['work[2]', 1, moment(9)],
  ]);
});

test('ticks fall on round steps, at most as many intervals as asked for', () => {
  assert.deepEqual(timeTicks(10000, 5), [0, 2000, 4000, 6000, 8000, 10000]);
  assert.ok(timeTicks(3600000, 8).length <= 9);
  assert.deepEqual(timeTicks(900, 4), [0, 500]);
});
