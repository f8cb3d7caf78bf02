"""``python -m mock_server``: parse options, build the app, serve it with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import uvicorn

from mock_server.app import CONTROL_PATH, MARQETA_CONTRACT, MockConfig, base_paths, build_app
from mock_server.auth import DEMO_CREDENTIALS, Credentials
from mock_server.fixtures import FixturesError
from mock_server.marqeta.service import ListQuery
from mock_server.money import json_number
from mock_server.spec import load_contract

logger = logging.getLogger("mock_server")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m mock_server",
        description=(
            "Stateful mock of the Marqeta Credit refund API, served from its OpenAPI contract."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="start empty instead of loading the demo accounts"
    )
    parser.add_argument(
        "--seed",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help=(
            "load a fixtures file (YAML or JSON, schema FixturesFile in"
            " openapi/mock-control.yaml); repeatable"
        ),
    )
    parser.add_argument(
        "--auth",
        metavar="USER:PASS",
        action="append",
        default=[],
        help="accept these HTTP Basic credentials instead of the demo pair; repeatable",
    )
    parser.add_argument(
        "--no-control",
        action="store_true",
        help=f"do not serve the control API under {CONTROL_PATH}",
    )
    parser.add_argument(
        "--validate-responses",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check every response against the contract; a breach answers 500 (default: on)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    try:
        credentials = Credentials.parse(args.auth) if args.auth else DEMO_CREDENTIALS
        config = MockConfig(
            credentials=credentials,
            demo=not args.no_demo,
            seed_files=tuple(args.seed),
            control=not args.no_control,
            validate_responses=args.validate_responses,
        )
        app = build_app(config)
    except (ValueError, FixturesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logger.info("%s", banner(app, config, args.host, args.port))
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def banner(app: object, config: MockConfig, host: str, port: int) -> str:
    root = f"http://{host}:{port}"
    lines = ["refund contract kit mock", "  Marqeta Credit API:"]
    for path in base_paths(load_contract(MARQETA_CONTRACT)):
        lines.append(f"    {root}{path}   (Swagger UI: {root}{path}/ui/)")
    if config.control:
        lines.append(f"  Control API: {root}{CONTROL_PATH}/health")
    if config.credentials.is_demo:
        user, password = config.credentials.pairs[0]
        lines.append(f"  Demo credentials (HTTP Basic): {user} / {password}")
    else:
        users = ", ".join(user for user, _ in config.credentials.pairs)
        lines.append(f"  Credentials: users {users} (passwords as given with --auth)")
    service = app.mock_state.marqeta  # type: ignore[attr-defined]
    accounts = service.accounts(
        ListQuery(count=100, start_index=0, sort_by="lastModifiedTime")
    ).items
    if accounts:
        lines.append("  Accounts:")
        for account in accounts:
            lines.append(
                f"    {account.token}  current_balance {json_number(account.current_balance)}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
