"""`cloacina workflows show NAME --import MODULE`: a workflow's tasks and graph."""

from __future__ import annotations

import argparse
import json

from cloacina import get_workflow

from . import _drawing
from ._modules import add_import_option, import_modules


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Adds `workflows` and its subcommands."""
    workflows = commands.add_parser("workflows", help="look at workflows a module defines")
    actions = workflows.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="a workflow's tasks and graph")
    show.add_argument("name", metavar="NAME")
    add_import_option(show, "the workflow")
    show.add_argument(
        "--format",
        choices=("text", "dot", "mermaid"),
        default="text",
        help="text (a tree, the default), dot (Graphviz) or mermaid (a flowchart)",
    )
    show.add_argument("--json", action="store_true", help="print a JSON object: name, version, tasks, dependencies")
    show.set_defaults(run=show_workflow)


def show_workflow(options: argparse.Namespace) -> int:
    """Prints the workflow in the format asked for."""
    import_modules(options, "a workflow is shown from its definition")
    workflow = get_workflow(options.name)
    dependencies = workflow.dependencies
    if options.json:
        data = {
            "name": workflow.name,
            "version": workflow.version,
            "description": workflow.description,
            "dependencies": dependencies,
        }
        print(json.dumps(data, indent=2))
    elif options.format == "dot":
        print(_drawing.dot(workflow.name, dependencies))
    elif options.format == "mermaid":
        print(_drawing.mermaid(dependencies))
    else:
        count = len(workflow)
        print(f"workflow {workflow.name} (version {workflow.version[:12]}, {count} task{'s' * (count != 1)})")
        if workflow.description:
            print(workflow.description)
        print()
        print("\n".join(_drawing.tree(dependencies)))
    return 0
