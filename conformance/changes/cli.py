"""``refund-contract``: what a contract change breaks, and where a contract drifted from the
vendor's document. Exit 0: nothing at or above ``--fail-on``; 1: found; 2: usage error or an
unreadable input (one line on stderr)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from conformance import baseline
from conformance.changes.compare import diff, drift
from conformance.changes.documents import Source, UnreadableDocument
from conformance.changes.findings import Report
from conformance.changes.output import FORMATS, render, render_rules
from conformance.changes.rules import Level
from mock_server.entry import kit_version

EXIT_CLEAN, EXIT_FOUND, EXIT_UNUSABLE = 0, 1, 2
PROGRAM = "refund-contract"


class UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Contract checks for CI: breaking changes between two versions of a "
        "contract (diff), and differences from the vendor's published document (drift). "
        "Exit 0: nothing at or above --fail-on; 1: found; 2: usage error or unreadable input.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compared = commands.add_parser(
        "diff",
        help="what NEW breaks for clients of BASE",
        description="Compare two versions of a contract. BASE and NEW: an http(s) URL, a "
        "file, or REV:PATH read from git (relative $refs are read at that revision too), e.g. "
        "origin/main:openapi/refunds.yaml.",
    )
    compared.add_argument("base", metavar="BASE")
    compared.add_argument("new", metavar="NEW")
    compared.add_argument(
        "--no-version-check",
        action="store_true",
        help="do not report breaking changes that come without a version bump",
    )
    compared.add_argument(
        "--allow-announced",
        action="store_true",
        help="breaking changes pass when NEW's version announces them (the -mock.N counter or "
        "the major version raised; pre-1.0 documents always): CI's 'no unannounced breaks'",
    )
    _common(compared)

    drifted = commands.add_parser(
        "drift",
        help="where our contract differs from the vendor's published document",
        description="Compare our contract for an API with the vendor's published document, on "
        "the operations both describe. What the vendor accepts that we refuse is an error, what "
        "it returns that we lack a warning, what only we document info; a difference our "
        "contract explains with an x-mock-assumption is 'explained' and never fails the run.",
    )
    drifted.add_argument(
        "--api", help="the API whose contract (as installed with the kit) to compare"
    )
    drifted.add_argument(
        "--vendor-spec", required=True, metavar="FILE_OR_URL", help="the vendor's document"
    )
    drifted.add_argument(
        "--contract",
        metavar="FILE_OR_URL",
        help="our contract to compare instead of the installed one of --api (a working copy)",
    )
    _common(drifted)

    listing = commands.add_parser("rules", help="the catalogue of findings, with their levels")
    listing.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument(
        "--output", metavar="FILE", help="write the report here instead of standard output"
    )
    parser.add_argument(
        "--fail-on",
        choices=[Level.ERROR.value, Level.WARNING.value],
        default=Level.ERROR.value,
        help="the lowest level that fails the run (default: error)",
    )
    parser.add_argument(
        "--baseline", metavar="FILE", help="known findings (each with a reason): do not fail"
    )
    parser.add_argument(
        "--write-baseline",
        metavar="FILE",
        help="write every finding of this run to FILE as known (then edit the reasons)",
    )
    parser.add_argument("--reason", help="the reason written with --write-baseline")


def _our_contract(api: str) -> Source:
    from mock_server.registry import vendor
    from mock_server.spec import CONTRACTS_DIR

    try:
        contract_file = vendor(api).contract_file
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    return Source.parse(str(CONTRACTS_DIR / contract_file))


def run(args: argparse.Namespace) -> Report:
    if args.command == "diff":
        report = diff(
            Source.parse(args.base),
            Source.parse(args.new),
            check_version=not args.no_version_check,
            allow_announced=args.allow_announced,
        )
    else:
        if not (args.contract or args.api):
            raise UsageError("drift needs --api NAME or --contract FILE_OR_URL")
        ours = Source.parse(args.contract) if args.contract else _our_contract(args.api)
        report = drift(ours, Source.parse(args.vendor_spec))
    if args.baseline:
        report.apply_baseline(baseline.load(Path(args.baseline)))
    if args.write_baseline:
        entries = report.baseline_entries(args.reason)
        baseline.write(Path(args.write_baseline), entries)
        report.apply_baseline(entries)
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "rules":
        sys.stdout.write(render_rules(args.format))
        return EXIT_CLEAN
    try:
        report = run(args)
        rendered = render(report, args.format)
        if args.output:
            Path(args.output).write_text(rendered, encoding="utf-8")
        else:
            sys.stdout.write(rendered)
    except (UsageError, UnreadableDocument, baseline.BadBaseline) as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as exc:  # an output or baseline file that cannot be written
        print(f"{PROGRAM}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    return EXIT_FOUND if report.fails(Level(args.fail_on)) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
