"""Which event types a service publishes, read off its source.

Nothing in a service declares what it publishes; its code says it where an envelope is
built: ``new_event(EventType.X, ...)`` or ``new_bulk_event(EventType.X, ...)``, directly or
through a helper that passes its own parameter on (``_event(deps, EventType.X, row)`` →
``new_event(event_type, ...)``), or through a local variable bound to members of
``EventType``. This module follows those paths in the syntax tree of every module of the
package. A call whose event type it cannot follow (``new_event(envelope.type, ...)``) is
reported, not guessed, so the AsyncAPI document never silently drops a producer.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from burnrate_common import events
from burnrate_common.events import EventType

#: The functions that build an envelope; their first parameter is the event type.
ENVELOPE_BUILDERS = (events.new_event, events.new_bulk_event)


@dataclass(frozen=True)
class Sender:
    """A function whose parameter ``parameter`` (``position`` among a call's positional
    arguments) becomes the type of the envelope it builds."""

    name: str
    parameter: str
    position: int


@dataclass(frozen=True)
class Unresolved:
    """A call that builds an envelope of a type this module cannot follow."""

    path: Path
    line: int
    call: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: the event type of {self.call}(...) is not followed"


@dataclass(frozen=True)
class Published:
    event_types: frozenset[EventType]
    unresolved: tuple[Unresolved, ...]


def _builders() -> list[Sender]:
    senders = []
    for builder in ENVELOPE_BUILDERS:
        first = next(iter(inspect.signature(builder).parameters))
        senders.append(Sender(builder.__name__, first, 0))
    return senders


def _members(node: ast.AST) -> set[EventType]:
    """The ``EventType.X`` (or ``events.EventType.X``) members written inside ``node``."""
    found = set()
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Attribute):
            continue
        owner = sub.value
        named = (isinstance(owner, ast.Name) and owner.id == "EventType") or (
            isinstance(owner, ast.Attribute) and owner.attr == "EventType"
        )
        if named and sub.attr in EventType.__members__:
            found.add(EventType[sub.attr])
    return found


def _plain_names(node: ast.expr) -> set[str]:
    """The names ``node`` is one of: ``x``, ``x if c else y``, ``x or y`` (not ``x.type``)."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.IfExp):
        return _plain_names(node.body) | _plain_names(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_plain_names(value) for value in node.values))
    return set()


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, sender: Sender) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == sender.parameter:
            return keyword.value
    positional = [a for a in call.args if not isinstance(a, ast.Starred)]
    if len(positional) == len(call.args) and sender.position < len(positional):
        return positional[sender.position]
    return None


@dataclass
class _Function:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    is_method: bool
    path: Path

    @property
    def parameters(self) -> list[str]:
        args = self.node.args
        return [a.arg for a in (*args.posonlyargs, *args.args)]

    @property
    def keyword_only(self) -> list[str]:
        return [a.arg for a in self.node.args.kwonlyargs]

    def bound_names(self) -> dict[str, set[EventType]]:
        """Local names bound to expressions that name ``EventType`` members (assignments,
        loop and comprehension targets)."""
        bound: dict[str, set[EventType]] = {}

        def bind(target: ast.expr, value: ast.AST) -> None:
            members = _members(value)
            if members:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound.setdefault(name.id, set()).update(members)

        for node in ast.walk(self.node):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                bind(node.target, node.value)
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                bind(node.target, node.iter)
        return bound

    def sender_for(self, parameter: str) -> Sender:
        if parameter in self.keyword_only:
            return Sender(self.node.name, parameter, len(self.parameters) + 1)
        position = self.parameters.index(parameter)
        is_bound = self.is_method and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in self.node.decorator_list
        )
        return Sender(self.node.name, parameter, position - 1 if is_bound else position)


def _functions(path: Path, tree: ast.Module) -> Iterator[_Function]:
    def visit(node: ast.AST, in_class: bool) -> Iterator[_Function]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield _Function(child, in_class, path)
                yield from visit(child, False)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, True)
            else:
                yield from visit(child, in_class)

    yield from visit(tree, False)


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    """The calls in ``node``'s own body (not in functions defined inside it)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(child, ast.Call):
            yield child
        yield from _calls(child)


def published(package_dir: Path) -> Published:
    """The event types the modules under ``package_dir`` build envelopes of."""
    modules = [
        (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(package_dir.rglob("*.py"))
    ]
    # Module-level code is a scope too (a constant list of events built at import).
    scopes: list[tuple[Path, ast.AST, _Function | None]] = []
    for path, tree in modules:
        scopes.append((path, tree, None))
        scopes.extend((path, f.node, f) for f in _functions(path, tree))

    senders = {s.name: [s] for s in _builders()}
    found: set[EventType] = set()
    unresolved: dict[tuple[Path, int], Unresolved] = {}
    changed = True
    while changed:
        changed = False
        for path, node, function in scopes:
            bound = function.bound_names() if function else {}
            parameters = set(function.parameters + function.keyword_only) if function else set()
            for call in _calls(node):
                for sender in senders.get(_callee(call) or "", []):
                    argument = _argument(call, sender)
                    if argument is None:  # not this sender: a function of the same name
                        continue
                    members = _members(argument)
                    names = _plain_names(argument)
                    for name in names:
                        members |= bound.get(name, set())
                    passed_on = [n for n in names if n in parameters and n not in bound]
                    for name in passed_on:
                        assert function is not None
                        new = function.sender_for(name)
                        if new not in senders.setdefault(new.name, []):
                            senders[new.name].append(new)
                            changed = True
                    if members - found:
                        found |= members
                        changed = True
                    if not members and not passed_on:
                        unresolved[(path, call.lineno)] = Unresolved(path, call.lineno, sender.name)
    return Published(frozenset(found), tuple(unresolved.values()))
