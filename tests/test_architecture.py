"""How the mock is put together, as far as a change to it relies on: handlers are found through
explicit tables checked against the contracts at start-up, built once per process, and given the
request's session."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import MockConfig, build_app
from mock_server.balanced.errors import BalancedKind
from mock_server.command import main
from mock_server.error_formats import Category, CategoryErrorFormat
from mock_server.error_kinds import ErrorKind
from mock_server.errors import ErrorRouter
from mock_server.marqeta.control import MarqetaControl
from mock_server.marqeta.errors import MarqetaKind
from mock_server.marqeta.handlers import MarqetaHandlers
from mock_server.marqeta.service import MarqetaService
from mock_server.registry import VENDORS, vendor
from mock_server.runtime import StartupError
from mock_server.vendor import Handler, Vendor
from tests.support import DEMO_AUTH, ROOT, free_port

INTERNAL = Category(status_code=500, category_code="server-error", category_type="server")


def plant(monkeypatch: pytest.MonkeyPatch, changed: Vendor) -> None:
    """Serve ``changed`` in place of the registered vendor of its name."""
    served = tuple(changed if each.name == changed.name else each for each in VENDORS)
    monkeypatch.setattr("mock_server.runtime.VENDORS", served)


def _without(name: str) -> Any:
    original = MarqetaHandlers.operations

    def operations(self: MarqetaHandlers) -> dict[str, Handler]:
        return {key: value for key, value in original(self).items() if key != name}

    return operations


def _with_extra(name: str) -> Any:
    original = MarqetaHandlers.operations

    def operations(self: MarqetaHandlers) -> dict[str, Handler]:
        return original(self) | {name: self.create_refund}

    return operations


def test_a_contract_operation_without_a_handler_stops_start_up(monkeypatch):
    monkeypatch.setattr(MarqetaHandlers, "operations", _without("createRefund"))
    with pytest.raises(StartupError, match="the marqeta API: no handler for createRefund"):
        build_app(MockConfig())


def test_a_handler_without_a_contract_operation_stops_start_up(monkeypatch):
    monkeypatch.setattr(MarqetaHandlers, "operations", _with_extra("cancelRefund"))
    with pytest.raises(StartupError, match="handlers for cancelRefund, not operations of its"):
        build_app(MockConfig())


def test_a_vendor_control_operation_the_control_api_has_already_stops_start_up(monkeypatch):
    original = MarqetaControl.operations
    monkeypatch.setattr(
        MarqetaControl,
        "operations",
        lambda self: original(self) | {"health": self.create_account},
    )
    with pytest.raises(StartupError, match="the control API: two handlers for health"):
        build_app(MockConfig())


def test_the_command_line_says_a_mismatch_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(MarqetaHandlers, "operations", _without("listRefunds"))
    assert main(["--port", str(free_port())]) == 2
    error = capsys.readouterr().err
    assert error == "refund-mock: error: the marqeta API: no handler for listRefunds\n"


def test_services_and_handlers_are_built_once_whatever_the_sessions(monkeypatch):
    built = []
    original = MarqetaService.__init__

    def counted(self: MarqetaService, *args: Any) -> None:
        built.append(self)
        original(self, *args)

    monkeypatch.setattr(MarqetaService, "__init__", counted)
    app = build_app(MockConfig())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.auth = DEMO_AUTH
        for session in ("one", "two", "three"):
            answer = client.get("/v3/accounts", headers={"X-Mock-Session": session})
            assert answer.status_code == 200
    assert len(built) == 1
    assert app.sessions.names() == ["one", "three", "two"]


def test_an_error_kind_missing_from_the_vendors_table_stops_start_up(monkeypatch):
    kinds: Any = ErrorKind  # the functional Enum API, which mypy does not model
    planted = kinds("MarqetaKind", {**{k.name: k.value for k in MarqetaKind}, "LOST": "lost"})
    plant(monkeypatch, replace(vendor("marqeta"), error_kinds=planted))
    with pytest.raises(StartupError, match="the marqeta API: its error table has no lost"):
        build_app(MockConfig())


def test_a_vendor_control_kind_missing_from_the_control_table_stops_start_up(monkeypatch):
    kinds = (*vendor("balanced").control_error_kinds, BalancedKind.REFUND_INSUFFICIENT_FUNDS)
    plant(monkeypatch, replace(vendor("balanced"), control_error_kinds=kinds))
    with pytest.raises(StartupError, match=r"the control API: .* no refund_insufficient_funds"):
        build_app(MockConfig())


def test_an_undeclared_kind_raised_while_serving_is_a_500_in_the_apis_shape(caplog):
    router = ErrorRouter()
    router.register("/v1", CategoryErrorFormat({"internal_error": INTERNAL}, "OHM"))
    answer = router.respond("/v1/x", MarqetaKind.BALANCE_NOT_NEGATIVE, "odd")
    assert answer.status_code == 500
    assert "balance_not_negative" in caplog.text


@pytest.mark.parametrize("module", ["conformance.command", "conformance.plugin"])
def test_the_conformance_suite_loads_none_of_the_mocks_behaviour(module):
    # It reads the registry (each vendor's description) and the contracts; a vendor's services,
    # handlers and runtime are the mock's, and so is Connexion.
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, {module}; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    behaviour = [name for name in loaded if re.fullmatch(MOCK_BEHAVIOUR, name)]
    assert behaviour == []
    assert "mock_server.registry" in loaded  # what it does read


MOCK_BEHAVIOUR = r"connexion(\..*)?|mock_server\.(app|\w+\.(service|handlers|runtime|control))"


def test_no_import_cycle_in_the_mock():
    # Every import counts: at the top, inside functions, and under TYPE_CHECKING.
    graph = _imports(ROOT / "mock_server", "mock_server")
    assert _cycles(graph) == []


def _imports(folder: Path, package: str) -> dict[str, set[str]]:
    modules = {}
    for path in folder.rglob("*.py"):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"  # a submodule, or a name in one
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {each for each in found if each in modules and each != name}
    assert any(name.startswith(package) for name in graph)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each set of modules that import one another in a ring (Tarjan's components)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for other in graph[module]:
            if other not in order:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], order[other])
        if low[module] == order[module]:
            ring = []
            while True:
                member = stack.pop()
                ring.append(member)
                if member == module:
                    break
            if len(ring) > 1:
                found.append(sorted(ring))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return found


# The fixture's names from before it served any API by name, kept as documented aliases.
FIXTURE_ALIASES = {"marqeta", "balanced", "marqeta_url", "balanced_url", "marqeta_auth"}
FIXTURE_ALIASES |= {"balanced_auth"}


def test_shared_modules_name_no_vendor_in_code():
    """Outside the vendors' own packages and modules, no name, import or string (docstrings and
    comments aside) says a vendor: what differs by vendor comes from the registry."""
    vendors = "marqeta|balanced"  # the built-in ones, whose packages may name themselves
    own = re.compile(rf"/({vendors})/|/({vendors})\.py$|test_({vendors})_behaviour\.py$")
    shared = [
        path
        for folder in ("mock_server", "conformance")
        for path in (ROOT / folder).rglob("*.py")
        if not own.search(path.as_posix()) and path.name != "registry.py"
    ]
    named = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in shared
        for line, text in _code_words(path)
        if re.search(vendors, text, re.IGNORECASE)
        and not (path.name == "pytest_plugin.py" and text in FIXTURE_ALIASES)
    ]
    assert named == []


def _code_words(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute | ast.FunctionDef | ast.ClassDef):
            words.append((node.lineno, node.attr if isinstance(node, ast.Attribute) else node.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            words += [(node.lineno, node.module), *((node.lineno, a.name) for a in node.names)]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            words.append((node.lineno, node.value))
    return words
