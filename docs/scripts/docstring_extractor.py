"""Writes the Python API reference of the documentation site from the package's docstrings.

    python docs/scripts/docstring_extractor.py [--output docs/content/reference/python-api]

The package is read with griffe, statically: the Python modules from their source and the
compiled module from its `.pyi` stub, so nothing has to be built or imported. Docstrings are
Google style (Args, Returns, Raises, Examples). The output is Hugo Markdown with front matter: a
page per public class, one for the exceptions, one for the functions, and an index. Type names
in signatures and in backticks link to their pages. A backticked `Class.member` or
`cloacina.name` that names nothing stops the build, so the reference never names a symbol that
no longer exists.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import re
import shutil
import sys
from dataclasses import dataclass, field

import griffe

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE_SOURCE = ROOT / "cloacina-python" / "python"
PACKAGE = "cloacina"
OUTPUT = ROOT / "docs" / "content" / "reference" / "python-api"

# The order of the sidebar: the entry points first; anything not named here follows, by name.
PREFERRED_ORDER = [
    "UnifiedExecutor",
    "functions",
    "Context",
    "Task",
    "TaskDecorator",
    "Workflow",
    "RustTask",
    "RetryPolicy",
    "TriggerRule",
    "ExecutionHandle",
    "ExecutionResult",
    "TaskResult",
    "ExecutionSummary",
    "Event",
    "EventStream",
    "EventKind",
    "ExecutionStatus",
    "TaskStatus",
    "Pickled",
    "exceptions",
]

# The functions' order on their page: defining workflows first.
FUNCTION_ORDER = ["task", "workflow", "register_type", "register_codec"]

# Special methods and what they let a user write, shown as one line on the class's page.
PROTOCOLS = {
    "__len__": "`len(x)`",
    "__contains__": "`key in x`",
    "__iter__": "iteration",
    "__getitem__": "`x[key]`",
    "__setitem__": "`x[key] = value`",
    "__delitem__": "`del x[key]`",
    "__eq__": "`==`",
    "__call__": "calling",
    "__await__": "`await x`",
    "__aiter__": "`async for`",
    "__enter__": "`with`",
    "__aenter__": "`async with`",
    "__and__": "`&`",
    "__or__": "`|`",
    "__invert__": "`~`",
}

CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def load_package(search_path: pathlib.Path = PACKAGE_SOURCE) -> griffe.Module:
    """The `cloacina` package as griffe reads it from source and stubs, aliases resolved."""
    return griffe.load(
        PACKAGE,
        search_paths=[str(search_path)],
        allow_inspection=False,
        docstring_parser="google",
        resolve_aliases=True,
        resolve_external=False,
    )


def public_names(package: griffe.Module) -> list[str]:
    """The names the package exports (its `__all__`), in that order."""
    return [str(name) for name in package.exports or []]


def public_members(item: griffe.Object | griffe.Alias) -> list[griffe.Object | griffe.Alias]:
    """The members a user of a class calls or reads: those whose names do not start with `_`."""
    return [member for name, member in item.members.items() if not name.startswith("_")]


def resolve(item: griffe.Object | griffe.Alias) -> griffe.Object | None:
    """The object an alias (a name imported from another module) stands for; None for a
    function a stub declares only by its `@overload`s, which griffe keeps apart."""
    if not item.is_alias:
        return item
    try:
        return item.final_target
    except griffe.AliasResolutionError:
        return None


def overloads_of(package: griffe.Module, name: str) -> list[griffe.Function]:
    """The `@overload` signatures of a function that a stub declares only by its overloads."""
    for module in package.modules.values():
        for overload_name, overloads in module.overloads.items():
            if overload_name == name and overloads:
                return list(overloads)
    return []


class MissingSymbolError(Exception):
    """A docstring names a symbol that does not exist, or griffe cannot read it."""


@dataclass
class Symbols:
    """Where each public name is documented, for links; and the type aliases of the stub."""

    pages: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    aliases: dict[str, griffe.Attribute] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def link(self, name: str) -> str | None:
        """The reference URL (a Markdown file path, from content/) of a public name or member."""
        head, _, member = name.removeprefix("cloacina.").partition(".")
        page = self.pages.get(head)
        if page is None:
            return None
        if not member:
            return page if "#" in page else f"{page}"
        return f"{page.partition('#')[0]}#{member.lower()}"

    def check(self, name: str, where: str) -> None:
        """Records a backticked `Class.member` or `cloacina.name` that names nothing."""
        dotted = re.match(r"[\w.]*", name)[0].rstrip(".")
        qualified = dotted.startswith("cloacina.")
        head, _, member = dotted.removeprefix("cloacina.").partition(".")
        member = member.partition(".")[0]
        if not qualified and not head[:1].isupper():
            # `workflow.name` in prose is most likely a variable holding a Workflow, not the function.
            return
        if head in self.members:
            if member and member not in self.members[head]:
                self.problems.append(f"{where}: `{name}`: {head} has no member {member}")
        elif qualified:
            self.problems.append(f"{where}: `{name}`: cloacina exports no {head}")


def escape(text: str) -> str:
    """Text safe to put in Markdown as it is."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def page_name(name: str) -> str:
    """The page (file stem) of a class."""
    return name.lower()


def is_enum(item: griffe.Class) -> bool:
    """Whether a class is an enumeration."""
    return any(str(base).endswith("Enum") for base in item.bases)


def is_exception(item: griffe.Class) -> bool:
    """Whether a class is one of the package's exceptions (its bases end in `Exception`)."""
    names = {str(base) for base in item.bases}
    return "Exception" in names or any(base.endswith("Error") for base in names)


class Writer:
    """Renders the package's public names as Markdown pages."""

    def __init__(self, package: griffe.Module) -> None:
        self.package = package
        self.symbols = Symbols()
        self.classes: dict[str, griffe.Class] = {}
        self.exceptions: dict[str, griffe.Class] = {}
        self.functions: dict[str, list[griffe.Function]] = {}
        self.attributes: dict[str, griffe.Attribute] = {}
        for name in public_names(package):
            item = resolve(package[name]) if name in package.members else None
            if item is None or item.is_function:
                self.functions[name] = self._function_variants(name, item)
            elif item.is_class and is_exception(item):
                self.exceptions[name] = item
            elif item.is_class:
                self.classes[name] = item
            else:
                self.attributes[name] = item
        for name, item in self.classes.items():
            self.symbols.pages[name] = f"/reference/python-api/{page_name(name)}.md"
            self.symbols.members[name] = set(item.members)
        for name, item in self.exceptions.items():
            self.symbols.pages[name] = f"/reference/python-api/exceptions.md#{name.lower()}"
            self.symbols.members[name] = set(item.members)
        for name in self.functions:
            self.symbols.pages[name] = f"/reference/python-api/functions.md#{name}"
            self.symbols.members[name] = set()
        for module in package.modules.values():
            for alias_name, member in module.members.items():
                if alias_name.startswith("_") and not member.is_alias and member.is_attribute:
                    if member.annotation is not None and str(member.annotation) == "TypeAlias":
                        self.symbols.aliases[alias_name] = member

    def _function_variants(self, name: str, item: griffe.Object | None) -> list[griffe.Function]:
        overloads = overloads_of(self.package, name)
        if overloads:
            return overloads
        if item is None:
            raise MissingSymbolError(f"cloacina.{name} is exported but griffe finds no definition of it")
        return [item]

    # Links and text

    def annotation(self, expression: object) -> str:
        """A type annotation in Markdown, its public type names linked to their pages."""
        if expression is None:
            return ""
        if isinstance(expression, str):
            return escape(expression)
        parts = []
        for part in expression.iterate(flat=True):
            if isinstance(part, str):
                parts.append(escape(part))
                continue
            name = getattr(part, "name", str(part))
            alias = self.symbols.aliases.get(name)
            if alias is not None and str(alias.value) != "Any":
                parts.append(self.annotation(alias.value))
            elif alias is not None:
                parts.append(f"[{escape(name.lstrip('_'))}](/reference/python-api/_index.md#type-aliases)")
            elif (link := self.symbols.link(name)) is not None:
                parts.append(f"[{escape(name)}]({link})")
            elif name.startswith("_") and (private := self.private_class(name)) is not None:
                # A class of the stub's own (an awaitable result, say): shown as its public base.
                parts.append(self.annotation(private.bases[0]) if private.bases else escape(name))
            else:
                parts.append(escape(str(part)))
        return "".join(parts)

    def private_class(self, name: str) -> griffe.Class | None:
        """A class whose name starts with `_`, defined in one of the package's modules."""
        for module in self.package.modules.values():
            member = module.members.get(name)
            if member is not None and not member.is_alias and member.is_class:
                return member
        return None

    def prose(self, text: str, where: str) -> str:
        """Docstring text: backticked public names become links, and are checked to exist."""

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if page := re.fullmatch(r"docs/content(/[\w./-]+\.md)", name):
                # A page of this site named by its source path: a link to it (checked by Hugo).
                return f"[{match[0]}]({page[1]})"
            self.symbols.check(name, where)
            target = self.symbols.link(name.split("(")[0]) if re.fullmatch(r"[\w.]+(\(\))?", name) else None
            if target is not None and not target.endswith("#"):
                head = name.removeprefix("cloacina.").partition(".")[0]
                member = name.removeprefix("cloacina.").partition(".")[2].split("(")[0]
                if head in self.symbols.members and (not member or member in self.symbols.members[head]):
                    return f"[`{name}`]({target})"
            return match[0]

        return CODE_SPAN.sub(replace, text.replace("``", "`"))

    # Signatures

    def parameters(self, function: griffe.Function, drop_first: bool) -> list[str]:
        """Each parameter as Markdown, with the `/` and `*` markers where they belong."""
        rendered: list[str] = []
        parameters = list(function.parameters)
        if drop_first and parameters and parameters[0].name in {"self", "cls"}:
            parameters = parameters[1:]
        previous_kind = None
        for parameter in parameters:
            kind = parameter.kind.value if parameter.kind else "positional or keyword"
            if previous_kind == "positional-only" and kind != "positional-only":
                rendered.append("/")
            if kind == "keyword-only" and previous_kind not in {"keyword-only", "variadic positional"}:
                rendered.append("\\*")
            text = escape(parameter.name)
            if kind == "variadic positional":
                text = "\\*" + text
            elif kind == "variadic keyword":
                text = "\\*\\*" + text
            if parameter.annotation is not None:
                text += ": " + self.annotation(parameter.annotation)
            if parameter.default is not None:
                text += " = " + escape(str(parameter.default))
            rendered.append(text)
            previous_kind = kind
        if previous_kind == "positional-only":
            rendered.append("/")
        return rendered

    def signature(self, prefix: str, name: str, function: griffe.Function, drop_first: bool) -> str:
        """A signature paragraph, one parameter per line when it is long."""
        parameters = self.parameters(function, drop_first)
        returns = ""
        if function.returns is not None and function.name not in {"__new__", "__init__"}:
            returns = " → " + self.annotation(function.returns)
        head = f"{prefix}**{escape(name)}**"
        one_line = f"{head}({', '.join(parameters)}){returns}"
        if len(re.sub(r"\]\([^)]*\)", "]", one_line)) <= 90:
            return one_line + "\n{.signature}\n"
        lines = [f"{head}(\\"] + [f"&nbsp;&nbsp;&nbsp;&nbsp;{parameter},\\" for parameter in parameters]
        lines.append(f"){returns}")
        return "\n".join(lines) + "\n{.signature}\n"

    # Docstrings

    def sections(self, item: griffe.Object, where: str) -> list[griffe.DocstringSection]:
        """A docstring's sections. A class's docstring describes its constructor's parameters, so
        it is read against the constructor (griffe alone would look for `__init__` only); any
        warning griffe has about it is a problem that stops the build."""
        assert item.docstring is not None
        parent = item
        if item.is_class:
            constructor = item.members.get("__new__") or item.members.get("__init__")
            if constructor is not None and constructor.is_function:
                parent = constructor
        docstring = griffe.Docstring(item.docstring.value, lineno=item.docstring.lineno, parent=parent)
        collector = WarningCollector()
        logger = logging.getLogger("griffe")
        logger.addHandler(collector)
        try:
            sections = docstring.parse("google")
        finally:
            logger.removeHandler(collector)
        self.symbols.problems.extend(f"{where}: {message}" for message in collector.messages)
        return sections

    def docstring(self, item: griffe.Object, where: str) -> str:
        """A docstring's sections as Markdown."""
        if item.docstring is None:
            return ""
        blocks: list[str] = []
        for section in self.sections(item, where):
            kind = section.kind.value
            if kind == "text":
                blocks.append(self.prose(section.value, where))
            elif kind in {"parameters", "other parameters"}:
                rows = []
                for parameter in section.value:
                    annotation = self.annotation(parameter.annotation) if parameter.annotation else ""
                    typed = f" ({annotation})" if annotation else ""
                    description = self.prose(parameter.description, where).replace("\n", " ")
                    rows.append(f"- `{parameter.name}`{typed}: {description}")
                blocks.append("**Arguments**\n\n" + "\n".join(rows))
            elif kind == "returns":
                rows = []
                for returned in section.value:
                    description = self.prose(returned.description, where).replace("\n", " ")
                    rows.append(description)
                blocks.append("**Returns**\n\n" + "\n\n".join(rows))
            elif kind == "raises":
                rows = []
                for raised in section.value:
                    name = str(raised.annotation)
                    link = self.symbols.link(name)
                    shown = f"[`{name}`]({link})" if link else f"`{name}`"
                    description = self.prose(raised.description, where).replace("\n", " ")
                    rows.append(f"- {shown}: {description}")
                blocks.append("**Raises**\n\n" + "\n".join(rows))
            elif kind == "examples":
                parts = ["**Examples**"]
                for sub_kind, text in section.value:
                    if sub_kind.value == "examples":
                        parts.append(f"```pycon\n{text}\n```")
                    else:
                        parts.append(self.prose(text, where))
                blocks.append("\n\n".join(parts))
            elif kind == "admonition":
                blocks.append(f"> **{section.title}**\n>\n> " + section.value.description.replace("\n", "\n> "))
            else:
                blocks.append(self.prose(str(section.value), where))
        return "\n\n".join(blocks).strip() + "\n"

    def summary(self, item: griffe.Object) -> str:
        """The first line of a docstring, for indexes and page descriptions."""
        if item.docstring is None or not item.docstring.value.strip():
            return ""
        return " ".join(item.docstring.value.strip().split("\n\n")[0].split())

    # Pages

    def front_matter(self, title: str, description: str, weight: int, link_title: str | None = None) -> str:
        """YAML front matter, quoted so any text is safe."""
        lines = ["---", f"title: {quote(title)}", f"description: {quote(description)}", f"weight: {weight}"]
        if link_title:
            lines.append(f"linkTitle: {quote(link_title)}")
        lines.append("---")
        return "\n".join(lines) + "\n\n"

    def class_page(self, name: str, item: griffe.Class, weight: int) -> str:
        """The page of one class: its constructor, docstring, members and supported protocols."""
        where = f"cloacina.{name}"
        text = self.front_matter(name, self.summary(item) or f"The {name} class.", weight)
        constructor = item.members.get("__new__") or item.members.get("__init__")
        if constructor is not None and constructor.is_function and not is_enum(item):
            text += self.signature("class cloacina.", name, constructor, drop_first=True) + "\n"
        else:
            text += f"class cloacina.**{escape(name)}**\n{{.signature}}\n\n"
        text += self.docstring(item, where) + "\n"
        protocols = [PROTOCOLS[special] for special in PROTOCOLS if special in item.members]
        if protocols:
            text += "Supports " + ", ".join(protocols) + ".\n\n"
        constants = [
            member for member in public_members(item) if member.is_attribute and not member.labels & {"property"}
        ]
        if constants and is_enum(item):
            text += "## Members\n\n| Member | Value |\n| --- | --- |\n"
            for member in constants:
                text += f"| `{name}.{member.name}` | `{member.value}` |\n"
            text += "\n"
            constants = []
        properties = [member for member in public_members(item) if member.is_attribute and "property" in member.labels]
        methods = [member for member in public_members(item) if member.is_function]
        if properties or constants:
            text += "## Properties\n\n"
            for member in [*properties, *constants]:
                annotation = self.annotation(member.annotation) if member.annotation is not None else ""
                typed = f": {annotation}" if annotation else ""
                text += f"### {member.name} {{#{member.name.lower()}}}\n\n"
                text += f"**{escape(member.name)}**{typed}\n{{.signature}}\n\n"
                text += self.docstring(member, f"{where}.{member.name}") + "\n"
        if methods:
            text += "## Methods\n\n"
            for member in methods:
                static = "staticmethod" in member.labels
                prefix = "static " if static else ""
                text += f"### {member.name} {{#{member.name.lower()}}}\n\n"
                text += self.signature(prefix, member.name, member, drop_first=not static) + "\n"
                text += self.docstring(member, f"{where}.{member.name}") + "\n"
        return text

    def exceptions_page(self, weight: int) -> str:
        """Every exception: the hierarchy, then each one's bases and docstring."""
        text = self.front_matter(
            "Exceptions", "The errors Cloacina raises, and what each one means.", weight, "Exceptions"
        )
        text += "Every error Cloacina raises is a `CloacinaError`; most are also a standard exception "
        text += "(`ValueError`, `LookupError`, ...), so existing `except` clauses keep working.\n\n"
        children: dict[str, list[str]] = {}
        for name, item in self.exceptions.items():
            parent = next((str(base) for base in item.bases if str(base) in self.exceptions), "")
            children.setdefault(parent, []).append(name)

        def tree(parent: str, depth: int) -> str:
            return "".join(
                "  " * depth + f"- [`{child}`](#{child.lower()})\n" + tree(child, depth + 1)
                for child in children.get(parent, [])
            )

        text += tree("", 0) + "\n"
        for name, item in self.exceptions.items():
            bases = ", ".join(self.annotation(base) for base in item.bases)
            text += f"## {name} {{#{name.lower()}}}\n\n"
            text += f"class cloacina.**{escape(name)}**({bases})\n{{.signature}}\n\n"
            text += self.docstring(item, f"cloacina.{name}") + "\n"
        return text

    def functions_page(self, weight: int) -> str:
        """The package's functions, each with all its signatures."""
        text = self.front_matter("Functions", "The functions of the cloacina package.", weight)
        order = {name: index for index, name in enumerate(FUNCTION_ORDER)}
        for name, variants in sorted(self.functions.items(), key=lambda entry: (order.get(entry[0], 99), entry[0])):
            text += f"## {name} {{#{name}}}\n\n"
            for variant in variants:
                text += self.signature("cloacina.", name, variant, drop_first=False) + "\n"
            documented = next((variant for variant in variants if variant.docstring), variants[0])
            text += self.docstring(documented, f"cloacina.{name}") + "\n"
        return text

    def index_page(self, pages: list[tuple[str, str, str]]) -> str:
        """Every public name with its summary; the package's attributes and type aliases."""
        text = self.front_matter(
            "Python API", "Every class and function of the cloacina package, from its docstrings.", 1
        )
        text += "Everything below is imported from the `cloacina` package (`from cloacina import ...`). "
        text += "These pages are generated from the docstrings of the package and of its type stub.\n\n"
        text += "| Name | Kind | Summary |\n| --- | --- | --- |\n"
        for name, kind, link in pages:
            text += f"| [`{name}`]({link}) | {kind} | {self.index_summary(name)} |\n"
        for name, item in self.attributes.items():
            annotation = self.annotation(item.annotation) if item.annotation is not None else ""
            text += f"| `{name}` | attribute | {self.summary(item) or 'The package version, e.g. `0.1.0`.'} |\n"
            if annotation:
                pass
        if self.symbols.aliases:
            text += "\n## Type aliases\n\nNames the signatures use for the types they accept.\n\n"
            text += "| Alias | Stands for | Meaning |\n| --- | --- | --- |\n"
            for name, alias in self.symbols.aliases.items():
                meaning = " ".join(self.prose(self.summary(alias), f"alias {name}").split())
                text += f"| `{name.lstrip('_')}` | {self.annotation(alias.value)} | {meaning} |\n"
        return text

    def index_summary(self, name: str) -> str:
        item = self.classes.get(name) or self.exceptions.get(name)
        if item is None and name in self.functions:
            variants = self.functions[name]
            item = next((variant for variant in variants if variant.docstring), variants[0])
        text = self.summary(item).split(". ")[0].rstrip(".") + "." if item is not None and self.summary(item) else ""
        return self.prose(text, f"cloacina.{name}").replace("|", "\\|")

    def write(self, output: pathlib.Path) -> list[pathlib.Path]:
        """Writes every page into `output` (emptied first); returns the files written."""
        order = {name: index for index, name in enumerate(PREFERRED_ORDER)}
        entries = [(name, "class") for name in self.classes]
        if self.functions:
            entries.append(("functions", "page"))
        if self.exceptions:
            entries.append(("exceptions", "page"))
        entries.sort(key=lambda entry: (order.get(entry[0], len(order)), entry[0]))
        if output.exists():
            shutil.rmtree(output)
        output.mkdir(parents=True)
        written = []
        for weight, (name, _) in enumerate(entries, start=2):
            if name == "functions":
                text = self.functions_page(weight)
            elif name == "exceptions":
                text = self.exceptions_page(weight)
            else:
                text = self.class_page(name, self.classes[name], weight)
            path = output / f"{page_name(name)}.md"
            path.write_text(text)
            written.append(path)
        listing = []
        for name in public_names(self.package):
            if name in self.classes:
                kind = "enum" if is_enum(self.classes[name]) else "class"
                listing.append((name, kind, self.symbols.pages[name]))
            elif name in self.exceptions:
                listing.append((name, "exception", self.symbols.pages[name]))
            elif name in self.functions:
                listing.append((name, "function", self.symbols.pages[name]))
        index = output / "_index.md"
        index.write_text(self.index_page(listing))
        written.append(index)
        if self.symbols.problems:
            raise MissingSymbolError("\n".join(self.symbols.problems))
        return written


class WarningCollector(logging.Handler):
    """Keeps the warnings griffe logs while it parses a docstring."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


FENCED_BLOCK = re.compile(r"^([ \t]*)(```+|~~~+).*?^\1\2[ \t]*$", re.MULTILINE | re.DOTALL)


def stale_names(package: griffe.Module, pages: list[pathlib.Path]) -> list[str]:
    """Backticked API names in written pages (`UnifiedExecutor.execute`, `cloacina.task`) that
    the package no longer has, as `page: problem` lines. Code blocks are not read: they run."""
    symbols = Writer(package).symbols
    for page in pages:
        text = FENCED_BLOCK.sub("", page.read_text())
        for match in CODE_SPAN.finditer(text):
            symbols.check(match[1], str(page))
    return symbols.problems


def quote(text: str) -> str:
    """A YAML double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT, help="where the pages go (emptied first)")
    parser.add_argument("--source", type=pathlib.Path, default=PACKAGE_SOURCE, help="the folder holding cloacina/")
    parser.add_argument(
        "--check-pages",
        type=pathlib.Path,
        nargs="*",
        default=[],
        help="written pages, or folders of them, whose backticked API names must exist",
    )
    options = parser.parse_args(arguments)
    package = load_package(options.source)
    try:
        written = Writer(package).write(options.output)
    except MissingSymbolError as error:
        print(f"docstring_extractor: the docstrings have problems:\n{error}", file=sys.stderr)
        return 1
    print(f"docstring_extractor: wrote {len(written)} pages to {options.output}")
    pages = [
        page for path in options.check_pages for page in ([path] if path.is_file() else sorted(path.rglob("*.md")))
    ]
    problems = stale_names(package, pages)
    for problem in problems:
        print(f"docstring_extractor: {problem}", file=sys.stderr)
    if problems:
        print(f"docstring_extractor: the pages name {len(problems)} symbols that do not exist", file=sys.stderr)
        return 1
    if pages:
        print(f"docstring_extractor: every API name in {len(pages)} written pages exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
