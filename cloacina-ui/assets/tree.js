// JSON values (contexts, inputs, outputs) as collapsible trees. Values are data: every one is
// written with textContent, so markup in a value shows as the literal text it is.

/** Entries an object or array may have and still open by itself below the first level. */
const SMALL = 8;
/** Children shown at once; the rest behind a "show more" button. */
const CHUNK = 200;

/**
 * Renders a JSON value into a container as a tree of `<details>`: the first level open, deeper
 * levels open only when small; children are built when first opened.
 * @param {HTMLElement} container emptied first
 * @param {*} value any JSON value
 */
export function renderTree(container, value) {
  container.replaceChildren();
  const root = document.createElement('div');
  root.className = 'tree';
  root.append(node(null, value, 0));
  container.append(root);
}

function node(key, value, depth) {
  if (value === null || typeof value !== 'object') return leaf(key, value);
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
  const details = document.createElement('details');
  details.className = 'tree-branch';
  const summary = document.createElement('summary');
  if (key !== null) summary.append(keyElement(key));
  const shape = document.createElement('span');
  shape.className = 'tree-shape';
  const noun = Array.isArray(value) ? (entries.length === 1 ? 'item' : 'items') : (entries.length === 1 ? 'key' : 'keys');
  shape.textContent = `${Array.isArray(value) ? '[ ]' : '{ }'} ${entries.length} ${noun}`;
  summary.append(shape);
  details.append(summary);
  if (entries.length === 0) {
    details.classList.add('tree-empty');
    return details;
  }
  const children = document.createElement('div');
  children.className = 'tree-children';
  details.append(children);
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    appendChunk(children, entries, 0, depth + 1);
  };
  details.addEventListener('toggle', () => {
    if (details.open) build();
  });
  if (depth === 0 || (entries.length <= SMALL && depth < 3)) {
    build();
    details.open = true;
  }
  return details;
}

function appendChunk(children, entries, start, depth) {
  const end = Math.min(entries.length, start + CHUNK);
  for (let index = start; index < end; index += 1) {
    const [key, value] = entries[index];
    children.append(node(key, value, depth));
  }
  if (end < entries.length) {
    const more = document.createElement('button');
    more.type = 'button';
    more.className = 'tree-more';
    more.textContent = `Show ${Math.min(CHUNK, entries.length - end)} more of ${entries.length - end}`;
    more.addEventListener('click', () => {
      more.remove();
      appendChunk(children, entries, end, depth);
    });
    children.append(more);
  }
}

function leaf(key, value) {
  const line = document.createElement('div');
  line.className = 'tree-leaf';
  if (key !== null) line.append(keyElement(key));
  const shown = document.createElement('span');
  const type = value === null ? 'null' : typeof value;
  shown.className = `tree-value tree-${type}`;
  // Strings as they are (quotes come from the style sheet), newlines kept.
  shown.textContent = String(value);
  line.append(shown);
  return line;
}

function keyElement(key) {
  const element = document.createElement('span');
  element.className = typeof key === 'number' ? 'tree-key tree-index' : 'tree-key';
  element.textContent = typeof key === 'number' ? `${key}` : key;
  return element;
}
