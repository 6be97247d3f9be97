"""A workflow's graph drawn as text (a tree), Graphviz DOT or a Mermaid flowchart."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

DRAWN_ABOVE = " (above)"
"""Marks a task drawn a second time, under another of its dependencies: its own dependents
are under its first drawing."""


def tree(dependencies: Mapping[str, Sequence[str]], label: Callable[[str], str] = str) -> list[str]:
    """The graph as an indented tree from its roots, each task under the tasks it depends on.

    `dependencies` maps each task id, dependencies first, to the ids it depends on. A task with
    several dependencies is drawn in full under the first, and named again under the others.
    """
    dependents: dict[str, list[str]] = {task: [] for task in dependencies}
    for task, needs in dependencies.items():
        for dependency in needs:
            dependents.setdefault(dependency, []).append(task)
    roots = [task for task, needs in dependencies.items() if not needs]
    lines: list[str] = []
    drawn: set[str] = set()
    # (task, prefix of its line, prefix of its children's lines), drawn depth first; a stack
    # rather than recursion, for chains of any length.
    stack = [(root, "", "") for root in reversed(roots)]
    while stack:
        task, prefix, children_prefix = stack.pop()
        if task in drawn:
            lines.append(f"{prefix}{label(task)}{DRAWN_ABOVE}")
            continue
        drawn.add(task)
        lines.append(f"{prefix}{label(task)}")
        children = dependents.get(task, [])
        for index in reversed(range(len(children))):
            last = index == len(children) - 1
            stack.append(
                (
                    children[index],
                    children_prefix + ("└── " if last else "├── "),
                    children_prefix + ("    " if last else "│   "),
                )
            )
    return lines


def _dot_id(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def dot(name: str, dependencies: Mapping[str, Sequence[str]]) -> str:
    """The graph in Graphviz's DOT language, left to right."""
    lines = [f"digraph {_dot_id(name)} {{", "  rankdir=LR;"]
    lines.extend(f"  {_dot_id(task)};" for task in dependencies)
    for task, needs in dependencies.items():
        lines.extend(f"  {_dot_id(dependency)} -> {_dot_id(task)};" for dependency in needs)
    lines.append("}")
    return "\n".join(lines)


def mermaid(dependencies: Mapping[str, Sequence[str]]) -> str:
    """The graph as a Mermaid flowchart, left to right (nodes `t0`, `t1`, ... labelled by id)."""
    names = {task: f"t{index}" for index, task in enumerate(dependencies)}
    lines = ["flowchart LR"]
    for task, node in names.items():
        label = task.replace('"', "#quot;")
        lines.append(f'  {node}["{label}"]')
    for task, needs in dependencies.items():
        lines.extend(f"  {names[dependency]} --> {names[task]}" for dependency in needs)
    return "\n".join(lines)
