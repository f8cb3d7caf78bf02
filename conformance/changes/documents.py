"""Reading the two documents a comparison needs, and walking them with ``$ref``s followed.

A document is named as a user names it: an http(s) URL, else an existing file, else
``REV:PATH`` read from git (relative ``$ref``s are then read at the same revision). References
are resolved by ``referencing`` (the library jsonschema uses) over one registry per document
set, so a file is read once however many references reach it, and every node keeps where it
lives (document and JSON pointer) for the findings that point at it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import httpx
import yaml
from referencing import Registry, Resource
from referencing._core import Resolver  # the type registry.resolver() returns; not re-exported
from referencing.exceptions import Unresolvable

from mock_server.http_clients import tls_context
from mock_server.spec import SAFE_LOADER

URL_TIMEOUT_SECONDS = 30.0


class UnreadableDocument(Exception):
    """The input cannot be read or is no OpenAPI 3 document: a usage error (exit 2)."""


@dataclass(frozen=True)
class Source:
    """Where a document comes from, as the user named it."""

    name: str  # as given, for messages and reports
    uri: str  # file:// or http(s)://; a git source's URI is the file's place in the work tree
    revision: str | None = None  # read from git at this revision instead of the work tree
    repository: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        if urlsplit(text).scheme in ("http", "https"):
            return cls(text, text)
        path = Path(text)
        if path.is_file():
            return cls(text, path.resolve().as_uri())
        revision, colon, in_repository = text.partition(":")
        if not colon or not revision or not in_repository:
            raise UnreadableDocument(f"{text}: no such file, and not a URL or REV:PATH")
        root = _git_root()
        # git's own rule: REV:PATH names PATH from the repository's root, REV:./PATH from here.
        base = Path.cwd() if in_repository.startswith(("./", "../")) else root
        place = (base / in_repository).resolve()
        return cls(text, place.as_uri(), revision, root)

    def read(self, uri: str) -> bytes:
        """The bytes at ``uri``: this source's own document or one its references name."""
        scheme = urlsplit(uri).scheme
        if scheme in ("http", "https"):
            return _download(uri)
        if scheme != "file":
            raise UnreadableDocument(f"{uri}: cannot read a reference with scheme {scheme!r}")
        path = Path(unquote(urlsplit(uri).path))
        if self.revision is None or self.repository is None:
            try:
                return path.read_bytes()
            except OSError as exc:
                raise UnreadableDocument(f"{path}: {exc.strerror or exc}") from exc
        return _git_show(self.revision, self.repository, path)

    def display(self, uri: str) -> str:
        """How a finding names the file at ``uri``: the name given for the document itself, a
        path from the current directory (or ``REV:PATH``) for files it references."""
        if uri == self.uri:
            return self.name
        if urlsplit(uri).scheme != "file":
            return uri
        path = Path(unquote(urlsplit(uri).path))
        if self.revision is not None and self.repository is not None:
            return f"{self.revision}:{path.relative_to(self.repository).as_posix()}"
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return str(path)


def _git_root() -> Path:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise UnreadableDocument(f"REV:PATH needs git: {exc}") from exc
    if found.returncode != 0:
        raise UnreadableDocument(f"REV:PATH needs a git repository here: {found.stderr.strip()}")
    return Path(found.stdout.strip())


def _git_show(revision: str, repository: Path, path: Path) -> bytes:
    try:
        name = path.relative_to(repository).as_posix()
    except ValueError:
        raise UnreadableDocument(f"{path} is outside the repository {repository}") from None
    shown = subprocess.run(
        ["git", "-C", str(repository), "show", f"{revision}:{name}"],
        capture_output=True,
        check=False,
    )
    if shown.returncode != 0:
        message = shown.stderr.decode(errors="replace").strip().splitlines()
        raise UnreadableDocument(f"{revision}:{name}: {message[-1] if message else 'not found'}")
    return shown.stdout


def _download(url: str) -> bytes:
    try:
        answer = httpx.get(
            url, timeout=URL_TIMEOUT_SECONDS, follow_redirects=True, verify=tls_context()
        )
    except httpx.HTTPError as exc:
        raise UnreadableDocument(f"{url}: {exc}") from exc
    if answer.status_code != 200:
        raise UnreadableDocument(f"{url}: answered {answer.status_code}")
    return answer.content


def parse(content: bytes, name: str) -> Any:
    """YAML or JSON (JSON read as JSON: faster, and YAML 1.1 would not change its strings)."""
    try:
        if content.lstrip()[:1] in (b"{", b"["):
            return json.loads(content)
        return yaml.load(content, Loader=SAFE_LOADER)
    except (ValueError, yaml.YAMLError) as exc:
        raise UnreadableDocument(f"{name}: not YAML or JSON: {exc}") from exc


class Documents:
    """The files one side of a comparison reads: the named document and those it references."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._raw: dict[str, bytes] = {}
        self._parsed: dict[str, Any] = {}
        self._lines: dict[str, dict[str, int]] = {}
        root = self._contents(source.uri)
        if not isinstance(root, dict) or not str(root.get("openapi", "")).startswith("3."):
            raise UnreadableDocument(f"{source.name}: not an OpenAPI 3 document")
        # attrs builds this initializer; mypy without the attrs plugin does not see `retrieve`.
        registry: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self.root = Node(root, source.uri, "", registry.resolver(base_uri=source.uri))

    def _contents(self, uri: str) -> Any:
        # Each file parsed once: references reach it through registries of their own.
        if uri not in self._parsed:
            raw = self.source.read(uri)
            self._raw[uri] = raw
            self._parsed[uri] = parse(raw, self.source.display(uri))
        return self._parsed[uri]

    def _retrieve(self, uri: str) -> Resource[Any]:
        # Opaque: OpenAPI 3.0 schemas have no $id, and paths are no JSON Schema.
        return Resource.opaque(self._contents(uri))

    @property
    def version(self) -> str:
        info = self.root.value.get("info")
        return str(info.get("version", "")) if isinstance(info, dict) else ""

    def at(self, uri: str, pointer: str) -> Any:
        """The value at ``pointer`` in the file at ``uri`` (None where there is none)."""
        value = self._contents(uri)
        for token in pointer.split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            if isinstance(value, dict):
                # YAML reads an unquoted `200:` as a number.
                value = value.get(key, value.get(int(key)) if key.isdigit() else None)
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                return None
        return value

    def line(self, uri: str, pointer: str) -> int | None:
        """The 1-based line where ``pointer`` starts in the file at ``uri``, read only when a
        finding asks (composing a large document's node tree costs as much as loading it)."""
        if uri not in self._lines:
            self._lines[uri] = _line_index(self._raw.get(uri, b""))
        lines = self._lines[uri]
        while pointer not in lines and pointer:
            pointer = pointer.rpartition("/")[0]
        return lines.get(pointer)


def _line_index(raw: bytes) -> dict[str, int]:
    try:
        top = yaml.compose(raw, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    pending: list[tuple[yaml.Node, str]] = [(top, "")] if top is not None else []
    while pending:
        node, pointer = pending.pop()
        lines[pointer] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                pending.append((value, f"{pointer}/{escape(str(key.value))}"))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, f"{pointer}/{index}") for index, item in enumerate(node.value))
    return lines


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class Node:
    """A value of a document and where it lives, with ``$ref``s already followed."""

    value: Any
    uri: str
    pointer: str
    resolver: Resolver[Any]

    def __getitem__(self, key: str | int) -> Node:
        child = Node(self.value[key], self.uri, f"{self.pointer}/{escape(str(key))}", self.resolver)
        return child.resolved()

    def get(self, key: str) -> Node | None:
        if not isinstance(self.value, dict) or key not in self.value:
            return None
        return self[key]

    def items(self) -> Iterator[tuple[str, Node]]:
        if isinstance(self.value, dict):
            for key in self.value:
                yield str(key), self[key]

    def elements(self) -> Iterator[Node]:
        if isinstance(self.value, list):
            for index in range(len(self.value)):
                yield self[index]

    def resolved(self) -> Node:
        node, seen = self, set()
        while isinstance(node.value, dict) and isinstance(node.value.get("$ref"), str):
            ref: str = node.value["$ref"]
            here = (node.uri, node.pointer)
            if here in seen:
                raise UnreadableDocument(f"{node.uri}#{node.pointer}: $ref cycle")
            seen.add(here)
            uri, fragment = (
                (node.uri, ref[1:]) if ref.startswith("#") else urldefrag(urljoin(node.uri, ref))
            )
            try:
                found = node.resolver.lookup(ref)
            except Unresolvable:
                # Not the library's message: it holds the whole document's text.
                where = f"{node.uri}#{node.pointer}"
                raise UnreadableDocument(f"{where}: $ref {ref!r} points at nothing") from None
            node = Node(found.contents, uri, unquote(fragment), found.resolver)
        return node

    @property
    def location(self) -> tuple[str, str]:
        return self.uri, self.pointer
