"""``refund-mock proxy --api NAME --target URL``: the command line of the proxy (it needs the
``mock`` extra, as ``refund-mock`` does)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

import uvicorn

from mock_server.app import MockConfig, build_app
from mock_server.command import LOG_LEVELS, CannotListen, configure_logging, listen
from mock_server.control.handlers import CONTROL_PATH
from mock_server.proxy.app import REPORT_PATH, Contracted, proxy_app
from mock_server.proxy.forwarding import Forwarder, Target, basic_authorization
from mock_server.proxy.recording import Recording
from mock_server.proxy.report import ProxyReport
from mock_server.registry import VENDORS
from mock_server.spec import load_contract

logger = logging.getLogger("mock_server.proxy")
PROG = "refund-mock proxy"
TARGET_AUTH_VARIABLE = "REFUND_PROXY_TARGET_AUTH"  # --target-auth without it in `ps`


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Forward a vendor API's paths to a target (a sandbox, your own service),"
        " byte for byte: point your app at the proxy instead of the target.",
    )
    parser.add_argument("--api", required=True, choices=[vendor.name for vendor in VENDORS])
    parser.add_argument(
        "--target",
        required=True,
        metavar="URL",
        help="the API's base URL at the target, e.g. https://sandbox.example.com/v3",
    )
    parser.add_argument(
        "--target-auth",
        metavar="USER:PASS",
        default=os.environ.get(TARGET_AUTH_VARIABLE),
        help="HTTP Basic credentials sent to the target in place of the app's (default:"
        f" ${TARGET_AUTH_VARIABLE}; without either, the app's own go through)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="a target that takes longer to accept a connection is a 502 (default: %(default)s)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a target that takes longer to answer is a 504 (default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a request that breaks the contract is answered as the mock answers it, without"
        " being forwarded; an answer that breaks it becomes a 502 naming how (default: both"
        " pass unchanged, with X-Mock-Contract-Violations saying how)",
    )
    parser.add_argument(
        "--fallback",
        choices=["mock"],
        help="mock: the operations the target answers with 501 or 405 (it does not implement"
        " them) are answered by the mock, from its demo data, marked X-Mock-Proxy-Fallback: mock"
        " (never a 404: that is the target's answer about a resource; default: none)",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        default=1000,
        metavar="N",
        help="exchanges kept for the dashboard and GET /__mock__/requests (default: %(default)s;"
        " 0 keeps none)",
    )
    parser.add_argument(
        "--junit-xml",
        type=Path,
        metavar="FILE",
        help="at shutdown, write the report (GET /__mock__/proxy/report) as JUnit: a test case"
        " per operation, failed when any of its exchanges broke the contract",
    )
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="at shutdown, write what the target's contract-valid successful answers showed as"
        " the mock's state (the format of GET /__mock__/state): refund-mock --state FILE starts"
        " on it",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    return parser.parse_args(argv)


def target_of(args: argparse.Namespace) -> Target:
    auth = None
    if args.target_auth is not None:
        user, colon, password = args.target_auth.partition(":")
        if not colon or not user:
            raise ValueError("--target-auth must be USER:PASS")
        auth = (user, password)
    if min(args.connect_timeout, args.read_timeout) <= 0:
        raise ValueError("--connect-timeout and --read-timeout must be above 0")
    return Target(args.target, auth, args.connect_timeout, args.read_timeout)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[2:] if argv is None else argv)
    configure_logging(args.log_level, "text", refusals_at_debug=False)
    try:
        target = target_of(args)
        for option, path in (("--junit-xml", args.junit_xml), ("--record", args.record)):
            if path is not None:  # found out now, not when it is to be written
                try:
                    path.touch()
                except OSError as exc:
                    raise ValueError(f"{option} {path}: {exc.strerror}") from None
        listening = listen(args.host, args.port)
    except (ValueError, CannotListen) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    vendor = next(each for each in VENDORS if each.name == args.api)
    contract = load_contract(vendor.contract_file)
    base_paths = [server["url"] for server in contract["servers"]]
    report = ProxyReport(args.api, target.url)
    # The mock inside: its dashboard, journal and control API, and the fallback's answers.
    mock = build_app(MockConfig(journal_size=max(args.journal_size, 0), journal_requests=False))
    demo_user, demo_password = vendor.credentials.demo.pairs[0]
    app = proxy_app(
        base_paths,
        Forwarder(target),
        Contracted.of(contract, args.strict),
        report,
        args.junit_xml,
        mock,
        basic_authorization(demo_user, demo_password) if args.fallback == "mock" else None,
        Recording(mock.apis[args.api], args.record) if args.record is not None else None,
    )
    root = f"http://{args.host}:{args.port}"
    mode = (
        "strict: what breaks the contract is refused"
        if args.strict
        else "violations in X-Mock-Contract-Violations"
    )
    lines = [f"refund contract kit proxy: {vendor.title} ({mode})"]
    lines += [f"  {root}{path} -> {target.url}" for path in base_paths]
    if args.fallback == "mock":
        lines.append("  what the target answers 501 or 405 is answered by the mock (demo data)")
    if args.record is not None:
        lines.append(f"  recording the target's answers to {args.record} (written when stopped)")
    lines.append(f"  report: {root}{REPORT_PATH} (?format=junit)")
    lines.append(f"  dashboard: {root}{CONTROL_PATH}/ (violations per operation, the journal)")
    logger.info("%s", "\n".join(lines))
    config = uvicorn.Config(app, log_level=args.log_level, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a developer stops it
        server.run(sockets=[listening])
    return 0 if server.started else 1
