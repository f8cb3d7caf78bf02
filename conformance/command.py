"""``refund-conformance run`` (``python -m conformance run``): check an implementation against a
contract. Reached through ``mock_server.entry``, which checks the install first.

A thin layer over pytest and the suite's plugin. Exit 0: conforms. 1: violations found. 2: usage
error, or a target that cannot be tested as given (unreachable, credentials refused, nothing of
the API under the base URL). 3: inconclusive (tests left out by a time limit or missing setup
data; ``--allow-skips`` accepts that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from conformance import traffic
from conformance.apis import APIS
from conformance.options import (
    EXIT_CONFORMS,
    EXIT_INCONCLUSIVE,
    EXIT_UNUSABLE,
    EXIT_VIOLATIONS,
    OPTIONS,
    UsageError,
    run_options,
)
from conformance.plugin import SETUP_DATA_ON_THE_MOCK, inconclusive_setup, shortfalls
from conformance.target import NotTestable, Unreachable, check_target
from mock_server.entry import kit_version

# The plugins a run needs, loaded by name. Autoloading every installed pytest plugin would
# also have pytest rewrite the asserts of each one's whole distribution (all of Schemathesis
# and Hypothesis) on every run where bytecode is not cached: about 7 s of a 20 s run.
PLUGINS = ("_hypothesis_pytestplugin", "schemathesis.pytest.plugin", "conformance.plugin")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refund-conformance",
        description="Check any implementation of a refund API against its OpenAPI contract"
        " (also: python -m conformance).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run the conformance suite against a base URL",
        description="Run property tests (Schemathesis), linked sequences and behaviour tests "
        "against BASE-URL. Exit 0: conforms; 1: violations found; 2: usage error, or a target "
        "that cannot be tested as given; 3: inconclusive (tests left out).",
    )
    for option in OPTIONS:
        spellings = [f"--{name}" for name in (option.name, *option.aliases)]
        if option.flag:
            run.add_argument(*spellings, action="store_true", help=option.help)
        else:
            run.add_argument(
                *spellings,
                type=option.type,
                default=option.default,
                metavar=option.metavar,
                help=option.help,
                required=option.name in ("api", "base-url"),
            )
    run.add_argument(
        "--verbose", action="store_true", help="show pytest's tracebacks as well as the report"
    )
    verify = commands.add_parser(
        "verify-traffic",
        help="check recorded traffic (a HAR file) against the contract, offline",
        description="Check each exchange of the API in FILE (a HAR file: a browser's DevTools,"
        " Playwright, most proxies) against the contract, with the checks a run applies to every"
        " response; nothing is sent. Exit 0: conforms; 1: violations found; 2: usage error;"
        " 3: inconclusive (no exchange of the API in the file).",
    )
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--api", required=True, choices=sorted(APIS))
    verify.add_argument(
        "--base-url",
        metavar="URL",
        help="the API's base URL in the recorded traffic (default: any URL whose path is under"
        " one of the contract's base paths, such as /v3)",
    )
    verify.add_argument(
        "--junit-xml", type=Path, metavar="FILE", help="also write the report as JUnit XML"
    )
    return parser


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line for these options."""
    argv = ["-c", str(Path(__file__).with_name("pytest.ini")), "--pyargs", "conformance.suite"]
    argv.append("--disable-plugin-autoload")
    for plugin in PLUGINS:
        argv += ["-p", plugin]
    # The report is the output: no percentage that stops short of 100 (deselected tests), no
    # pytest tally beside the report's own; the dots stay, to show a long run is alive.
    argv += ["-o", "console_output_style=classic"]
    argv += ["-q"] if args.verbose else ["-qq", "--tb=no", "--no-header", "-rN"]
    for option in OPTIONS:
        value = getattr(args, option.name.replace("-", "_"))
        if option.flag and value:
            argv.append(f"--conformance-{option.name}")
        elif not option.flag and value is not None:
            argv += [f"--conformance-{option.name}", str(value)]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "verify-traffic":
        return traffic.main(args)
    try:
        options = run_options({name: getattr(args, name) for name in vars(args)})
        # Before any generated case: a wrong base URL or refused credentials is one line here,
        # not a report full of violations the target does not have.
        control = check_target(options.base_url, options.api, options.auth, options.read_only)
        if control is not None and options.setup_data is not None:
            raise UsageError(SETUP_DATA_ON_THE_MOCK)
        short = shortfalls(options)
        if short:
            print(f"refund-conformance: {inconclusive_setup(short)}", file=sys.stderr)
            return EXIT_INCONCLUSIVE
    except UsageError as exc:
        print(f"refund-conformance: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except (Unreachable, NotTestable) as exc:
        kind = "target unreachable" if isinstance(exc, Unreachable) else "target not testable"
        print(f"refund-conformance: {kind}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    code = int(pytest.main(pytest_args(args)))
    known = (EXIT_CONFORMS, EXIT_VIOLATIONS, EXIT_INCONCLUSIVE)
    return code if code in known else EXIT_UNUSABLE
