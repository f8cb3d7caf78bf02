"""Comparing two schemas by what they allow, not by how they are written.

``allOf`` parts are merged into one view (moving a property into a shared part is no change), a
``$ref`` is followed wherever it stands (a schema moved into ``components`` or inlined is no
change), and OpenAPI 3.0's ``nullable`` and 3.1's type lists mean the same.

Two schemas are compared as a graph of pairs (BASE node, NEW node): each pair is compared once,
for its own keywords, and names the pairs below it (properties, items, alternatives). A
comparison from one root walks the pairs it reaches, each once, so recursive schemas end and a
change is reported once for each root (an operation's body, parameter or header) that reaches
it, with the shortest property path to it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from conformance.changes.documents import Node

Direction = Literal["request", "response"]
Side = Literal["base", "new"]
ITEMS = "[]"  # path token for an array's items
ADDITIONAL = "*"  # path token for additionalProperties


@dataclass(frozen=True)
class Change:
    """One difference between two schemas, relative to where the comparison started."""

    kind: str  # a VALUE_KINDS key, or "property-" + an OBJECT_KINDS key
    path: tuple[str, ...]  # properties from the compared schema down to the changed one
    side: Side  # "base" when what changed exists only in BASE
    uri: str
    pointer: str
    detail: str
    # The NEW schema the change was found in: where an x-mock-assumption may explain it.
    anchor: tuple[str, str] | None = None


def path_text(path: tuple[str, ...]) -> str:
    text = ""
    for token in path:
        text += token if token == ITEMS else (f".{token}" if text else token)
    return text


def shown(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


class View:
    """A schema with its ``allOf`` parts merged: each keyword with the node that holds it.

    3.1's boolean schemas: ``true`` allows anything (no keywords), ``false`` nothing."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.allows_nothing = node.value is False
        self.keywords: dict[str, tuple[Any, Node]] = {}
        self.properties: dict[str, Node] = {}
        self.required: dict[str, Node] = {}  # name -> the schema whose `required` lists it
        self._take(node, set())

    def _take(self, node: Node, seen: set[tuple[str, str]]) -> None:
        if node.location in seen or not isinstance(node.value, dict):
            return
        seen.add(node.location)
        parts = node.get("allOf")
        for part in parts.elements() if parts is not None else ():
            self._take(part, seen)
        for keyword, value in node.value.items():
            if keyword not in ("allOf", "properties", "required"):
                self.keywords[keyword] = (value, node)
        properties = node.get("properties")
        if properties is not None:
            self.properties.update(properties.items())
        required = node.value.get("required")
        for name in required if isinstance(required, list) else ():
            self.required[str(name)] = node

    def value(self, keyword: str) -> Any:
        return self.keywords.get(keyword, (None, None))[0]

    def at(self, keyword: str) -> Node:
        return self.keywords.get(keyword, (None, self.node))[1]

    def child(self, keyword: str) -> Node | None:
        """The schema under ``keyword`` (items, additionalProperties, ...), wherever the merged
        parts hold it."""
        if keyword not in self.keywords:
            return None
        return self.at(keyword)[keyword]

    def types(self) -> tuple[frozenset[str] | None, bool]:
        """The JSON types allowed (None: any) and whether null is."""
        if self.allows_nothing:
            return frozenset(), False
        declared = self.value("type")
        nullable = self.value("nullable") is True
        if declared is None:
            return None, nullable
        names = {declared} if isinstance(declared, str) else set(declared)
        nullable = nullable or "null" in names
        return frozenset(names - {"null"}), nullable

    def enum(self) -> dict[str, Any] | None:
        if "const" in self.keywords:
            return {shown(self.value("const")): self.value("const")}
        values = self.value("enum")
        if not isinstance(values, list):
            return None
        return {shown(value): value for value in values if value is not None}

    def bound(self, keyword: str, exclusive: str) -> tuple[float, bool] | None:
        """A numeric bound as (value, exclusive), 3.0's boolean and 3.1's numeric forms alike."""
        flag = self.value(exclusive)
        if isinstance(flag, int | float) and not isinstance(flag, bool):
            return float(flag), True
        limit = self.value(keyword)
        if not isinstance(limit, int | float) or isinstance(limit, bool):
            return None
        return float(limit), flag is True

    def skipped(self, direction: Direction) -> bool:
        """A property that does not travel this way (readOnly in requests, writeOnly in
        responses)."""
        hidden = "readOnly" if direction == "request" else "writeOnly"
        return self.value(hidden) is True

    def fingerprint(self) -> str:
        """What an alternative is, for matching alternatives that no name pairs."""
        facts = {key: self.value(key) for key in ("type", "format", "enum", "const", "title")}
        facts["properties"] = sorted(self.properties)
        facts["required"] = sorted(self.required)
        return shown(facts)


def _covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    if wide is None:
        return True
    if narrow is None:
        return False
    return all(kind in wide or (kind == "integer" and "number" in wide) for kind in narrow)


_PairKey = tuple[str, str, str, str]


def _key(base: Node, new: Node) -> _PairKey:
    return (base.uri, base.pointer, new.uri, new.pointer)


def _path_to(
    key: _PairKey, came_from: dict[_PairKey, tuple[_PairKey, str | None] | None]
) -> tuple[str, ...]:
    tokens: list[str] = []
    step = came_from[key]
    while step is not None:
        key, token = step
        if token is not None:
            tokens.append(token)
        step = came_from[key]
    return tuple(reversed(tokens))


_Edge = tuple[str | None, _PairKey, Node, Node]  # path token (None: same value), pair, nodes


@dataclass
class _Pair:
    """What one pair of schema nodes differs in itself, and the pairs below it."""

    changes: list[Change] = field(default_factory=list)
    below: list[_Edge] = field(default_factory=list)

    def add_below(self, token: str | None, base: Node, new: Node) -> None:
        self.below.append((token, _key(base, new), base, new))


class SchemaComparer:
    """Compares schema pairs for one pair of documents, keeping every result.

    Each pair is made once, with its children. A pair is *dirty* when a change is reachable
    from it; a comparison from a root walks dirty pairs only, so the many pairs of two large
    documents that agree are made once and never walked again."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[_PairKey, Direction], _Pair] = {}
        self._parents: dict[tuple[_PairKey, Direction], list[tuple[_PairKey, Direction]]] = {}
        self._dirty: set[tuple[_PairKey, Direction]] = set()
        self._reached: dict[tuple[_PairKey, Direction], list[Change]] = {}

    def compare(self, base: Node, new: Node, direction: Direction) -> list[Change]:
        """Every change below (and at) this pair, each once, with the shortest path to it."""
        root = _key(base, new)
        if (root, direction) in self._reached:
            return self._reached[(root, direction)]
        self._make_all(root, base, new, direction)
        found: list[Change] = []
        # Breadth first, each pair once; the way back to the root is kept, not each path.
        came_from: dict[_PairKey, tuple[_PairKey, str | None] | None] = {root: None}
        queue = deque([root] if (root, direction) in self._dirty else [])
        while queue:
            key = queue.popleft()
            pair = self._pairs[(key, direction)]
            if pair.changes:
                path = _path_to(key, came_from)
                found.extend(dataclasses.replace(c, path=path + c.path) for c in pair.changes)
            for token, below, _, _ in pair.below:
                if below not in came_from and (below, direction) in self._dirty:
                    came_from[below] = (key, token)
                    queue.append(below)
        self._reached[(root, direction)] = found
        return found

    def _make_all(self, root: _PairKey, base: Node, new: Node, direction: Direction) -> None:
        """Make this pair and every pair below it not made yet, marking what is dirty."""
        queue = deque([(root, base, new)])
        while queue:
            key, old, now = queue.popleft()
            if (key, direction) in self._pairs:
                continue
            pair = self._make(old, now, direction)
            self._pairs[(key, direction)] = pair
            if pair.changes:
                self._mark_dirty((key, direction))
            for _, below, below_old, below_now in pair.below:
                self._parents.setdefault((below, direction), []).append((key, direction))
                if (below, direction) in self._dirty:
                    self._mark_dirty((key, direction))
                elif (below, direction) not in self._pairs:
                    queue.append((below, below_old, below_now))

    def _mark_dirty(self, start: tuple[_PairKey, Direction]) -> None:
        pending = [start]
        while pending:
            key = pending.pop()
            if key not in self._dirty:
                self._dirty.add(key)
                pending.extend(self._parents.get(key, ()))

    def _make(self, base: Node, new: Node, direction: Direction) -> _Pair:
        pair = _Pair()
        old, now = View(base), View(new)
        for check in _VALUE_CHECKS:
            pair.changes.extend(check(old, now))
        pair.changes.extend(self._members(old, now, direction, pair))
        pair.changes.extend(_additional(old, now, pair))
        pair.changes.extend(_variants(old, now, pair))
        items_old, items_now = old.child("items"), now.child("items")
        if items_old is not None and items_now is not None:
            pair.add_below(ITEMS, items_old, items_now)
        pair.changes = [
            change if change.anchor else dataclasses.replace(change, anchor=new.location)
            for change in pair.changes
        ]
        return pair

    def _members(
        self, base: View, new: View, direction: Direction, pair: _Pair
    ) -> Iterator[Change]:
        def travels(view: View, name: str) -> bool:
            return name in view.properties and not View(view.properties[name]).skipped(direction)

        names = [name for name in base.properties if travels(base, name)]
        names += [name for name in new.properties if travels(new, name) and name not in names]
        for name in names:
            in_base, in_new = travels(base, name), travels(new, name)
            if not in_new:
                where = base.properties[name]
                yield Change("property-removed", (name,), "base", *where.location, "")
            elif not in_base:
                where = new.properties[name]
                kind = "property-added-required" if name in new.required else "property-added"
                yield Change(kind, (name,), "new", *where.location, "")
            else:
                pair.add_below(name, base.properties[name], new.properties[name])
                if (name in base.required) != (name in new.required):
                    holder = new.required.get(name, new.node)
                    made = "required" if name in new.required else "optional"
                    yield Change(
                        f"property-became-{made}", (name,), "new", *_at(holder, "required"), ""
                    )
        yield from _counts(
            base,
            new,
            "maxProperties",
            "minProperties",
            "property-max-properties",
            "property-min-properties",
        )


def _additional(base: View, new: View, pair: _Pair) -> Iterator[Change]:
    def openness(view: View) -> str:
        allowed = view.value("additionalProperties")
        if allowed is False:
            return "none"
        if allowed is None or allowed is True or allowed == {}:
            return "any"
        return "schema"

    was, now = openness(base), openness(new)
    if was == now == "schema":
        below_base, below_new = (
            base.child("additionalProperties"),
            new.child("additionalProperties"),
        )
        assert below_base is not None and below_new is not None
        pair.add_below(ADDITIONAL, below_base, below_new)
        return
    if was == now:
        return
    narrowed = was == "any" or now == "none"
    yield _keyword_change(
        f"property-additional-properties-{'narrowed' if narrowed else 'widened'}",
        base,
        new,
        "additionalProperties",
        f"{was} -> {now}",
    )


def _variants(base: View, new: View, pair: _Pair) -> Iterator[Change]:
    """oneOf/anyOf alternatives, paired by the component or title that names them, then by what
    they are (an alternative moved into components, renamed or reordered is the same one), then
    the unnamed rest in order."""
    for keyword in ("oneOf", "anyOf"):
        was, now = _alternatives(base, keyword), _alternatives(new, keyword)
        for matches in (_same_name, _same_fingerprint, _both_unnamed):
            for old, twin in list(matches(was, now)):
                pair.add_below(None, was.pop(old), now.pop(twin))
        for name, variant in was.items():
            yield Change("variant-removed", (), "base", *variant.location, name)
        for name, variant in now.items():
            yield Change("variant-added", (), "new", *variant.location, name)


def _same_name(was: dict[str, Node], now: dict[str, Node]) -> Iterator[tuple[str, str]]:
    yield from ((name, name) for name in was if name in now and not name.startswith("#"))


def _same_fingerprint(was: dict[str, Node], now: dict[str, Node]) -> Iterator[tuple[str, str]]:
    unclaimed = {View(variant).fingerprint(): name for name, variant in now.items()}
    for name, variant in was.items():
        twin = unclaimed.pop(View(variant).fingerprint(), None)
        if twin is not None:
            yield name, twin


def _both_unnamed(was: dict[str, Node], now: dict[str, Node]) -> Iterator[tuple[str, str]]:
    unnamed = [name for name in now if name.startswith("#")]
    yield from zip((name for name in was if name.startswith("#")), unnamed, strict=False)


def _alternatives(view: View, keyword: str) -> dict[str, Node]:
    """Alternatives by the component their $ref names, else their title, else ``#position``."""
    named: dict[str, Node] = {}
    listed = view.child(keyword)
    if listed is None or not isinstance(listed.value, list):
        return named
    for index, raw in enumerate(listed.value):
        variant = listed[index]
        if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
            name = raw["$ref"].rpartition("/")[2]
        elif isinstance(variant.value, dict) and isinstance(variant.value.get("title"), str):
            name = variant.value["title"]
        else:
            name = f"#{index}"
        named[name] = variant
    return named


def _at(node: Node, keyword: str) -> tuple[str, str]:
    return node.uri, f"{node.pointer}/{keyword}"


def _keyword_change(kind: str, base: View, new: View, keyword: str, detail: str) -> Change:
    """A change about ``keyword``, placed where NEW holds it, else where BASE held it."""
    if keyword in new.keywords:
        return Change(kind, (), "new", *_at(new.at(keyword), keyword), detail)
    return Change(kind, (), "base", *_at(base.at(keyword), keyword), detail)


def _types(base: View, new: View) -> Iterable[Change]:
    (was, was_null), (now, now_null) = base.types(), new.types()
    if was != now:
        detail = f"{_type_text(was)} -> {_type_text(now)}"
        if _covers(was, now):
            kind = "type-narrowed"
        elif _covers(now, was):
            kind = "type-widened"
        else:
            kind = "type-changed"
        yield _keyword_change(kind, base, new, "type", detail)
    if was_null != now_null:
        kind = "became-nullable" if now_null else "became-not-nullable"
        keyword = (
            "nullable" if "nullable" in new.keywords or "nullable" in base.keywords else "type"
        )
        yield _keyword_change(kind, base, new, keyword, "")


def _type_text(types: frozenset[str] | None) -> str:
    return "any" if types is None else "|".join(sorted(types)) or "null"


def _format(base: View, new: View) -> Iterable[Change]:
    was, now = base.value("format"), new.value("format")
    if was == now:
        return
    kind = "format-added" if was is None else "format-removed" if now is None else "format-changed"
    yield _keyword_change(kind, base, new, "format", f"{was or 'none'} -> {now or 'none'}")


def _enum(base: View, new: View) -> Iterable[Change]:
    was, now = base.enum(), new.enum()
    keyword = "const" if "const" in new.keywords or "const" in base.keywords else "enum"
    if was is None and now is None:
        return
    if was is None:
        yield _keyword_change("enum-added", base, new, keyword, ", ".join(now or ()))
        return
    if now is None:
        yield _keyword_change("enum-removed", base, new, keyword, ", ".join(was))
        return
    for value in was:
        if value not in now:
            yield Change("enum-value-removed", (), "new", *_at(new.at(keyword), keyword), value)
    for value in now:
        if value not in was:
            yield Change("enum-value-added", (), "new", *_at(new.at(keyword), keyword), value)


def _bounds(base: View, new: View) -> Iterable[Change]:
    for keyword, exclusive, upper in (
        ("maximum", "exclusiveMaximum", True),
        ("minimum", "exclusiveMinimum", False),
    ):
        was, now = base.bound(keyword, exclusive), new.bound(keyword, exclusive)
        if was == now:
            continue
        tighter = _tighter(was, now, upper)
        name = "max" if upper else "min"
        moved = (
            ("decreased" if upper else "increased")
            if tighter
            else ("increased" if upper else "decreased")
        )
        held = keyword if keyword in new.keywords or keyword in base.keywords else exclusive
        yield _keyword_change(
            f"{name}-{moved}", base, new, held, f"{_bound_text(was)} -> {_bound_text(now)}"
        )


def _tighter(was: tuple[float, bool] | None, now: tuple[float, bool] | None, upper: bool) -> bool:
    if now is None:
        return False
    if was is None:
        return True
    if was[0] != now[0]:
        return now[0] < was[0] if upper else now[0] > was[0]
    return now[1] and not was[1]


def _bound_text(bound: tuple[float, bool] | None) -> str:
    if bound is None:
        return "none"
    value = int(bound[0]) if bound[0].is_integer() else bound[0]
    return f"{value} (exclusive)" if bound[1] else str(value)


def _counts(
    base: View, new: View, most: str, least: str, most_kind: str, least_kind: str
) -> Iterable[Change]:
    """maxLength/minLength and the like: a missing maximum is no limit, a missing minimum 0."""
    for keyword, kind, upper in ((most, most_kind, True), (least, least_kind, False)):
        was, now = base.value(keyword), new.value(keyword)
        if was == now or (not upper and {was, now} <= {None, 0}):
            continue
        if upper:
            tighter = now is not None and (was is None or now < was)
            moved = "decreased" if tighter else "increased"
        else:
            tighter = now is not None and (was is None or now > was)
            moved = "increased" if tighter else "decreased"
        detail = f"{_or_none(was)} -> {_or_none(now)}"
        yield _keyword_change(f"{kind}-{moved}", base, new, keyword, detail)


def _or_none(value: Any) -> str:
    return "none" if value is None else str(value)


def _lengths(base: View, new: View) -> Iterable[Change]:
    yield from _counts(base, new, "maxLength", "minLength", "max-length", "min-length")
    yield from _counts(base, new, "maxItems", "minItems", "max-items", "min-items")


def _pattern(base: View, new: View) -> Iterable[Change]:
    was, now = base.value("pattern"), new.value("pattern")
    if was == now:
        return
    kind = (
        "pattern-added" if was is None else "pattern-removed" if now is None else "pattern-changed"
    )
    yield _keyword_change(kind, base, new, "pattern", f"{was or 'none'} -> {now or 'none'}")


def _multiple_of(base: View, new: View) -> Iterable[Change]:
    was, now = base.value("multipleOf"), new.value("multipleOf")
    if was != now:
        detail = f"{_or_none(was)} -> {_or_none(now)}"
        yield _keyword_change("multiple-of-changed", base, new, "multipleOf", detail)


def _default(base: View, new: View) -> Iterable[Change]:
    if "default" in base.keywords and "default" in new.keywords:
        was, now = base.value("default"), new.value("default")
        if shown(was) != shown(now):
            yield _keyword_change(
                "default-changed", base, new, "default", f"{shown(was)} -> {shown(now)}"
            )


_VALUE_CHECKS: tuple[Callable[[View, View], Iterable[Change]], ...] = (
    _types,
    _format,
    _enum,
    _bounds,
    _multiple_of,
    _lengths,
    _pattern,
    _default,
)
