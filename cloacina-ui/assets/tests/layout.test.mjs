// The graph layout: placement, layers, overlaps and the folding of mapped instances.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { layout } from '../dag.js';

function task(id, dependencies = [], status = 'Completed', mapIndex = null) {
  return { id, dependencies, status, map_index: mapIndex };
}

/** A workflow of `count` tasks in a pseudo-random DAG (each depends on up to three earlier ones). */
function randomTasks(count, seed) {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const tasks = [];
  for (let index = 0; index < count; index += 1) {
    const dependencies = new Set();
    const wanted = index === 0 ? 0 : Math.floor(next() * 4);
    for (let pick = 0; pick < wanted; pick += 1) dependencies.add(`task_${Math.floor(next() * index)}`);
    tasks.push(task(`task_${index}`, [...dependencies]));
  }
  return tasks;
}

function assertNoOverlap(nodes) {
  for (let first = 0; first < nodes.length; first += 1) {
    for (let second = first + 1; second < nodes.length; second += 1) {
      const one = nodes[first];
      const other = nodes[second];
      const apart = one.x + one.width <= other.x || other.x + other.width <= one.x
        || one.y + one.height <= other.y || other.y + other.height <= one.y;
      assert.ok(apart, `${one.id} and ${other.id} overlap`);
    }
  }
}

function assertLayered(tasks, placement) {
  const byId = new Map(placement.nodes.map((node) => [node.id, node]));
  for (const node of placement.nodes) {
    for (const dependency of node.dependencies) {
      assert.ok(node.layer > byId.get(dependency).layer, `${node.id} is not right of ${dependency}`);
      assert.ok(node.x > byId.get(dependency).x, `${node.id} is not drawn right of ${dependency}`);
    }
  }
  const inputs = tasks.filter((item) => item.map_index == null).map((item) => item.id).sort();
  assert.deepEqual(placement.nodes.map((node) => node.id).sort(), inputs, 'every task placed exactly once');
}

test('an empty workflow places nothing', () => {
  const placement = layout([]);
  assert.deepEqual(placement.nodes, []);
  assert.deepEqual(placement.edges, []);
});

test('a diamond is layered by the longest path from a root', () => {
  const tasks = [task('load'), task('clean', ['load']), task('count', ['load']), task('report', ['clean', 'count']), task('note', ['load', 'report'])];
  const placement = layout(tasks);
  const layers = Object.fromEntries(placement.nodes.map((node) => [node.id, node.layer]));
  assert.deepEqual(layers, { load: 0, clean: 1, count: 1, report: 2, note: 3 });
  assertLayered(tasks, placement);
  assertNoOverlap(placement.nodes);
  assert.equal(placement.edges.length, 6);
  for (const edge of placement.edges) assert.match(edge.path, /^M[\d.]+,[\d.]+ C/);
  assert.ok(placement.width >= Math.max(...placement.nodes.map((node) => node.x + node.width)));
  assert.ok(placement.height >= Math.max(...placement.nodes.map((node) => node.y + node.height)));
});

test('fifty tasks: each placed once, after its dependencies, without overlap', () => {
  for (const seed of [1, 7, 42, 2026]) {
    const tasks = randomTasks(50, seed);
    const placement = layout(tasks);
    assertLayered(tasks, placement);
    assertNoOverlap(placement.nodes);
  }
});

test('ordering by barycentre removes avoidable crossings', () => {
  // Drawn in the given order, a→y and b→x would cross; the sweeps swap x and y.
  const tasks = [task('a'), task('b'), task('x', ['b']), task('y', ['a'])];
  const byId = new Map(layout(tasks).nodes.map((node) => [node.id, node]));
  assert.equal(Math.sign(byId.get('a').y - byId.get('b').y), Math.sign(byId.get('y').y - byId.get('x').y));
});

test('mapped instances are folded into their task with counts by status', () => {
  const tasks = [
    task('split'),
    task('work', ['split'], 'Running'),
    ...Array.from({ length: 15 }, (_, index) => {
      const status = index < 10 ? 'Completed' : index < 12 ? 'Failed' : 'Running';
      return task(`work[${index}]`, ['split'], status, index);
    }),
    task('join', ['work'], 'Pending'),
  ];
  const placement = layout(tasks);
  assert.deepEqual(placement.nodes.map((node) => node.id), ['split', 'work', 'join']);
  const work = placement.nodes.find((node) => node.id === 'work');
  assert.deepEqual(work.mapped, { count: 15, counts: { Completed: 10, Failed: 2, Running: 3 } });
  assert.match(work.label, /×15$/);
  assert.equal(work.detail, '10 ok, 2 failed, 3 running');
  assert.equal(placement.edges.length, 2);
  assertLayered(tasks, placement);
  assertNoOverlap(placement.nodes);
});

test('a dependency on an instance counts as one on its mapped task', () => {
  const tasks = [task('work'), task('work[0]', [], 'Completed', 0), task('pick', ['work[0]'])];
  const placement = layout(tasks);
  assert.deepEqual(placement.nodes.find((node) => node.id === 'pick').dependencies, ['work']);
});

test('tasks without a status (a workflow graph) are placed too', () => {
  const placement = layout([{ id: 'a', dependencies: [] }, { id: 'b', dependencies: ['a', 'missing'] }]);
  assert.deepEqual(placement.nodes.map((node) => [node.id, node.status, node.layer]), [['a', null, 0], ['b', null, 1]]);
});

test('long ids are ellipsised in the label and kept whole in the title', () => {
  const id = 'a_task_with_a_remarkably_long_and_descriptive_name';
  const [node] = layout([task(id)]).nodes;
  assert.ok(node.label.length <= 24 && node.label.endsWith('…'));
  assert.ok(node.title.startsWith(id));
});
