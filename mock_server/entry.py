"""The console scripts' first step: say the kit's version, and check that the install has what
the command needs, before importing it. A missing extra is one line naming the install that
brings it, not a traceback.

Imports only the standard library: it runs in every install, the base one included.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "refund-contract-kit"
EXIT_UNUSABLE = 2

# extra -> the modules a command of it imports first
EXTRAS: dict[str, tuple[str, ...]] = {
    "mock": ("connexion", "uvicorn", "orjson"),
    "conformance": ("schemathesis", "pytest"),
}


def kit_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def wheel_name() -> str:
    """The file name of this version's wheel, as `make dist` builds it (the kit is on no
    public index)."""
    return f"{DISTRIBUTION.replace('-', '_')}-{kit_version()}-py3-none-any.whl"


def missing(extra: str) -> list[str]:
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def launch(program: str, extra: str, target: str, argv: list[str] | None = None) -> int:
    """Run ``target`` (``module:function``) as ``program`` once ``extra`` is installed."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments == ["--version"]:  # answered in any install
        print(f"{program} {kit_version()}")
        return 0
    absent = missing(extra)
    if absent:
        print(
            f"{program} needs the {extra} extra ({', '.join(absent)} not installed): install"
            f" the kit with it, e.g. pip install '{wheel_name()}[{extra}]'",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    module, _, function = target.partition(":")
    main: Callable[[list[str] | None], int] = getattr(importlib.import_module(module), function)
    return main(argv)


def refund_mock() -> int:
    if sys.argv[1:2] == ["proxy"]:  # refund-mock proxy ...: the API forwarded to a target
        return launch("refund-mock proxy", "mock", "mock_server.proxy.command:main", sys.argv[2:])
    return launch("refund-mock", "mock", "mock_server.command:main")


def refund_conformance() -> int:
    return launch("refund-conformance", "conformance", "conformance.command:main")
