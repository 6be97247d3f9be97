// A workflow's tasks as a left-to-right graph: `layout` places them (pure, tested in Node),
// `renderDag` draws the placement as SVG.

import { ellipsis, mappedTaskOf } from './format.js';

/** Sizes of the drawing, in SVG units (pixels at scale 1). */
export const GEOMETRY = Object.freeze({
  nodeWidth: 180,
  nodeHeight: 40,
  passageHeight: 8,
  columnGap: 56,
  rowGap: 14,
  margin: 12,
});

/** The words instance counts are summarised with, in the order they are listed. */
const COUNT_WORDS = [
  ['Completed', 'ok'], ['Failed', 'failed'], ['Running', 'running'], ['Ready', 'ready'],
  ['Pending', 'pending'], ['Skipped', 'skipped'], ['Cancelled', 'cancelled'],
];

const SWEEPS = 6;

/**
 * Places tasks in layers, left to right by dependency depth (the longest path from a task
 * without dependencies), ordered within a layer by the barycentre of their neighbours to keep
 * edges from crossing. Instances of a mapped task (`map_index` set) are folded into the mapped
 * task's node, which counts them by status. Edges spanning several layers pass between the
 * nodes of the layers they cross.
 * @param {Array<{id: string, dependencies?: string[], status?: string | null, map_index?: number | null}>} tasks
 * @returns {{
 *   nodes: Array<{id: string, status: string | null, layer: number, order: number, x: number, y: number,
 *     width: number, height: number, label: string, detail: string, title: string, dependencies: string[],
 *     mapped: {count: number, counts: Object<string, number>} | null}>,
 *   edges: Array<{from: string, to: string, path: string}>,
 *   width: number, height: number}}
 */
export function layout(tasks) {
  const { shown, instances } = foldInstances(tasks);
  const shownIds = new Set(shown.map((task) => task.id));
  const dependencies = new Map(shown.map((task) => [task.id, resolveDependencies(task, shownIds)]));
  const layers = assignLayers(shown, dependencies);
  const slots = buildSlots(shown, dependencies, layers);
  orderSlots(slots);
  const { width, height } = placeSlots(slots);

  const nodes = shown.map((task) => {
    const slot = slots.byKey.get(task.id);
    const mapped = instances.has(task.id) ? countInstances(instances.get(task.id)) : null;
    return {
      id: task.id,
      status: task.status || null,
      layer: slot.layer,
      order: slot.order,
      x: slot.x,
      y: slot.y,
      width: GEOMETRY.nodeWidth,
      height: GEOMETRY.nodeHeight,
      label: mapped ? `${ellipsis(task.id, 16)} ×${mapped.count}` : ellipsis(task.id, 21),
      detail: mapped ? ellipsis(mapped.summary, 30) : '',
      title: [task.id, task.status, mapped && `×${mapped.count}: ${mapped.summary}`].filter(Boolean).join(' · '),
      dependencies: dependencies.get(task.id),
      mapped: mapped && { count: mapped.count, counts: mapped.counts },
    };
  });
  const edges = slots.chains.map((chain) => ({
    from: chain[0],
    to: chain[chain.length - 1],
    path: edgePath(chain.map((key) => slots.byKey.get(key))),
  }));
  return { nodes, edges, width, height };
}

function foldInstances(tasks) {
  const ids = new Set(tasks.map((task) => task.id));
  const shown = [];
  const instances = new Map();
  for (const task of tasks) {
    const parent = task.map_index != null ? mappedTaskOf(task.id) : null;
    if (parent != null && ids.has(parent)) {
      if (!instances.has(parent)) instances.set(parent, []);
      instances.get(parent).push(task);
    } else if (!shown.some((other) => other.id === task.id)) {
      shown.push(task);
    }
  }
  return { shown, instances };
}

function resolveDependencies(task, shownIds) {
  const resolved = [];
  for (const dependency of task.dependencies || []) {
    const parent = mappedTaskOf(dependency);
    const id = shownIds.has(dependency) ? dependency : (parent && shownIds.has(parent) ? parent : null);
    if (id != null && id !== task.id && !resolved.includes(id)) resolved.push(id);
  }
  return resolved;
}

function countInstances(instances) {
  const counts = {};
  for (const instance of instances) {
    const status = instance.status || 'Pending';
    counts[status] = (counts[status] || 0) + 1;
  }
  const known = new Set(COUNT_WORDS.map(([status]) => status));
  const parts = COUNT_WORDS.filter(([status]) => counts[status]).map(([status, word]) => `${counts[status]} ${word}`);
  for (const [status, count] of Object.entries(counts)) {
    if (!known.has(status)) parts.push(`${count} ${status.toLowerCase()}`);
  }
  return { count: instances.length, counts, summary: parts.join(', ') };
}

function assignLayers(shown, dependencies) {
  const layers = new Map();
  const visiting = new Set();
  const depth = (id) => {
    if (layers.has(id)) return layers.get(id);
    // A cycle cannot come from the engine; if one did, it is cut here rather than looping.
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let layer = 0;
    for (const dependency of dependencies.get(id)) layer = Math.max(layer, depth(dependency) + 1);
    visiting.delete(id);
    layers.set(id, layer);
    return layer;
  };
  for (const task of shown) depth(task.id);
  return layers;
}

// Every node is a slot of its layer; an edge crossing layers gets a passage slot in each layer
// it crosses, so that ordering sees it and the edge is drawn between the nodes.
function buildSlots(shown, dependencies, layers) {
  const byKey = new Map();
  const rows = [];
  const add = (key, layer, passage) => {
    const slot = { key, layer, passage, up: [], down: [], order: 0, x: 0, y: 0, height: 0 };
    byKey.set(key, slot);
    while (rows.length <= layer) rows.push([]);
    rows[layer].push(slot);
    return slot;
  };
  for (const task of shown) add(task.id, layers.get(task.id), false);
  const chains = [];
  for (const task of shown) {
    for (const dependency of dependencies.get(task.id)) {
      const chain = [dependency];
      for (let layer = layers.get(dependency) + 1; layer < layers.get(task.id); layer += 1) {
        chain.push(add(`\u0000${dependency}\u0000${task.id}\u0000${layer}`, layer, true).key);
      }
      chain.push(task.id);
      for (let index = 1; index < chain.length; index += 1) {
        byKey.get(chain[index - 1]).down.push(chain[index]);
        byKey.get(chain[index]).up.push(chain[index - 1]);
      }
      chains.push(chain);
    }
  }
  rows.forEach((row) => row.forEach((slot, index) => { slot.order = index; }));
  return { byKey, rows, chains };
}

function orderSlots(slots) {
  const { rows, byKey } = slots;
  let best = rows.map((row) => row.slice());
  let fewest = crossings(slots);
  for (let sweep = 0; sweep < SWEEPS && fewest > 0; sweep += 1) {
    for (let layer = 1; layer < rows.length; layer += 1) sortByBarycentre(rows, layer, 'up', byKey);
    for (let layer = rows.length - 2; layer >= 0; layer -= 1) sortByBarycentre(rows, layer, 'down', byKey);
    const count = crossings(slots);
    if (count < fewest) {
      fewest = count;
      best = rows.map((row) => row.slice());
    }
  }
  best.forEach((row, layer) => {
    rows[layer] = row;
    row.forEach((slot, index) => { slot.order = index; });
  });
}

function sortByBarycentre(rows, layer, side, byKey) {
  const keyed = rows[layer].map((slot) => {
    const neighbours = slot[side];
    const barycentre = neighbours.length
      ? neighbours.reduce((sum, key) => sum + byKey.get(key).order, 0) / neighbours.length
      : slot.order;
    return { slot, barycentre };
  });
  keyed.sort((first, second) => first.barycentre - second.barycentre || first.slot.order - second.slot.order);
  rows[layer] = keyed.map(({ slot }) => slot);
  rows[layer].forEach((slot, index) => { slot.order = index; });
}

function crossings(slots) {
  let count = 0;
  for (const row of slots.rows) {
    const links = [];
    for (const slot of row) for (const key of slot.down) links.push([slot.order, slots.byKey.get(key).order]);
    for (let first = 0; first < links.length; first += 1) {
      for (let second = first + 1; second < links.length; second += 1) {
        const [upperA, lowerA] = links[first];
        const [upperB, lowerB] = links[second];
        if ((upperA - upperB) * (lowerA - lowerB) < 0) count += 1;
      }
    }
  }
  return count;
}

function placeSlots(slots) {
  const { nodeWidth, nodeHeight, passageHeight, columnGap, rowGap, margin } = GEOMETRY;
  const heights = slots.rows.map((row) => row.reduce(
    (sum, slot, index) => sum + (slot.passage ? passageHeight : nodeHeight) + (index ? rowGap : 0), 0));
  const tallest = Math.max(0, ...heights);
  slots.rows.forEach((row, layer) => {
    let y = margin + (tallest - heights[layer]) / 2;
    for (const slot of row) {
      slot.height = slot.passage ? passageHeight : nodeHeight;
      slot.x = margin + layer * (nodeWidth + columnGap);
      slot.y = y;
      y += slot.height + rowGap;
    }
  });
  const columns = slots.rows.length;
  return {
    width: margin * 2 + columns * nodeWidth + Math.max(0, columns - 1) * columnGap,
    height: margin * 2 + tallest,
  };
}

function edgePath(chain) {
  const round = (number) => Math.round(number * 10) / 10;
  const middle = (slot) => slot.y + slot.height / 2;
  const first = chain[0];
  let x = first.x + GEOMETRY.nodeWidth;
  let y = middle(first);
  const parts = [`M${round(x)},${round(y)}`];
  for (let index = 1; index < chain.length; index += 1) {
    const slot = chain[index];
    const targetY = middle(slot);
    const bend = (slot.x - x) / 2;
    parts.push(`C${round(x + bend)},${round(y)} ${round(slot.x - bend)},${round(targetY)} ${round(slot.x)},${round(targetY)}`);
    x = slot.x;
    y = targetY;
    if (slot.passage) {
      x += GEOMETRY.nodeWidth;
      parts.push(`L${round(x)},${round(y)}`);
    }
  }
  return parts.join(' ');
}

/**
 * Draws tasks as a graph into a container, which becomes a horizontally scrollable box. Its
 * scroll position and the focused node survive a redraw.
 * @param {HTMLElement} container emptied first
 * @param {Array<object>} tasks as `layout` takes them; tasks without `status` are drawn neutral
 * @param {{onSelect?: function(string): void, selected?: string | null}} [options] called with the
 *   task id of a clicked (or Enter-pressed) node; the id of the node to mark as selected
 */
export function renderDag(container, tasks, options = {}) {
  const { onSelect, selected } = options;
  const placement = layout(tasks);
  const focused = container.contains(document.activeElement) ? document.activeElement.getAttribute('data-task-id') : null;
  const { scrollLeft, scrollTop } = container;
  container.classList.add('dag-scroll');
  container.replaceChildren();
  if (!placement.nodes.length) {
    const empty = document.createElement('p');
    empty.className = 'notice';
    empty.textContent = 'No tasks.';
    container.append(empty);
    return;
  }
  const svg = make('svg', {
    class: 'dag', viewBox: `0 0 ${placement.width} ${placement.height}`,
    width: placement.width, height: placement.height, role: 'group', 'aria-label': 'Task graph',
  });
  const marker = make('marker', {
    id: 'dag-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
  });
  marker.append(make('path', { d: 'M0,0 L10,5 L0,10 z', class: 'dag-arrow' }));
  const definitions = make('defs', {});
  definitions.append(marker);
  svg.append(definitions);

  const edgeGroup = make('g', { class: 'dag-edges' });
  for (const edge of placement.edges) {
    const touches = selected != null && (edge.from === selected || edge.to === selected);
    edgeGroup.append(make('path', {
      d: edge.path, class: touches ? 'dag-edge selected' : 'dag-edge', 'marker-end': 'url(#dag-arrow)',
      'data-from': edge.from, 'data-to': edge.to,
    }));
  }
  svg.append(edgeGroup);

  const nodeGroup = make('g', { class: 'dag-nodes' });
  for (const node of placement.nodes) nodeGroup.append(drawNode(node, node.id === selected, onSelect));
  svg.append(nodeGroup);
  container.append(svg);
  container.scrollLeft = scrollLeft;
  container.scrollTop = scrollTop;
  if (focused != null) {
    const again = [...container.querySelectorAll('g.dag-node')].find((group) => group.getAttribute('data-task-id') === focused);
    if (again) again.focus({ preventScroll: true });
  }
}

function drawNode(node, isSelected, onSelect) {
  const classes = ['dag-node', `status-${node.status || 'none'}`];
  if (isSelected) classes.push('selected');
  if (node.mapped) classes.push('mapped');
  const group = make('g', {
    class: classes.join(' '), 'data-task-id': node.id, 'data-status': node.status, tabindex: 0, role: 'button',
    'aria-label': node.title, 'aria-pressed': isSelected ? 'true' : 'false',
  });
  const title = make('title', {});
  title.textContent = node.title;
  group.append(title);
  group.append(make('rect', { x: node.x, y: node.y, width: node.width, height: node.height, rx: 6, ry: 6, class: 'dag-box' }));
  const label = make('text', { x: node.x + 10, y: node.y + (node.detail ? 16 : node.height / 2 + 4), class: 'dag-label' });
  label.textContent = node.label;
  group.append(label);
  if (node.detail) {
    const detail = make('text', { x: node.x + 10, y: node.y + 31, class: 'dag-detail' });
    detail.textContent = node.detail;
    group.append(detail);
  }
  if (onSelect) {
    group.addEventListener('click', () => onSelect(node.id));
    group.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onSelect(node.id);
      }
    });
  }
  return group;
}

function make(tag, attributes) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value != null) node.setAttribute(name, String(value));
  }
  return node;
}
