"""``refund-mock`` (``python -m mock_server``): parse options, build the app, serve it with
uvicorn. Reached through ``mock_server.entry``, which checks the install first."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from mock_server.app import MockApp, MockConfig, build_app
from mock_server.auth import Credentials
from mock_server.connections import ConnectionLimits, GuardedHttp, WorkerSupervisor
from mock_server.control.guard import TOKEN_VARIABLE, is_loopback
from mock_server.control.handlers import CONTROL_PATH
from mock_server.control.health import LIVE_PATH, READY_PATH
from mock_server.control.lifecycle import parse_lifecycle
from mock_server.entry import kit_version
from mock_server.fixtures import FixturesError
from mock_server.registry import VENDORS
from mock_server.sessions import SessionLimits
from mock_server.store import StoreError
from mock_server.store.backends import store_backend

logger = logging.getLogger("mock_server")
ARGV_VARIABLE = "MOCK_SERVER_ARGV"  # how worker processes learn the options
PROG = "refund-mock"
STORE_VARIABLE = "REFUND_MOCK_STORE"  # --store without it in `ps`
EXPIRE_SHARED_S = 86400.0  # --session-expire on a shared store: a day unused


class CannotListen(Exception):
    """The mock cannot listen where it was asked to: one line saying why."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            f"Stateful mock of the {' and '.join(vendor.title for vendor in VENDORS)},"
            " served from their OpenAPI contracts (also: python -m mock_server)."
        ),
        epilog=f"{PROG} proxy --api NAME --target URL forwards an API to a target instead"
        f" ({PROG} proxy --help).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {kit_version()}")
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 1-65535 (default: %(default)s)"
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="start empty instead of loading the demo accounts"
    )
    parser.add_argument(
        "--start-data",
        "--seed",  # its name until 0.1.0, kept for a release
        dest="seed",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help=(
            "load start data: the accounts, refunds, marketplaces and debits to start with"
            " (YAML or JSON, schema FixturesFile of the control contract,"
            " /__mock__/openapi.json; not the conformance suite's setup data); repeatable;"
            " formerly --seed"
        ),
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="start on this whole state (a file of GET /__mock__/state, or one `refund-mock"
        " proxy --record` wrote) instead of the demo data: each session starts on it, and a"
        " reset returns to it",
    )
    for vendor in VENDORS:
        options = vendor.credentials
        parser.add_argument(
            options.flag,
            metavar=options.metavar,
            action="append",
            default=[],
            dest=f"{vendor.name}_credentials",
            help=f"{vendor.title}: accept this {options.meaning} instead of the demo one;"
            " repeatable",
        )
        parser.add_argument(
            options.file_flag,
            metavar="FILE",
            type=Path,
            dest=f"{vendor.name}_credentials_file",
            help=f"{vendor.title}: accept the {options.metavar} lines of this file (# comments),"
            f" so that no secret shows in `ps`; ${options.variable} may hold the same lines",
        )
    parser.add_argument(
        "--no-control",
        action="store_true",
        help=f"do not serve the control API under {CONTROL_PATH}",
    )
    parser.add_argument(
        "--control-origin",
        metavar="ORIGIN",
        action="append",
        default=[],
        help="a web origin (e.g. http://localhost:5173) whose pages may use the control API;"
        " repeatable (default: only the mock's own pages)",
    )
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        default=os.environ.get(TOKEN_VARIABLE) or None,
        help="require this token (header X-Mock-Control-Token) for the control API; needed to"
        f" listen beyond loopback (default: ${TOKEN_VARIABLE}, which keeps it out of `ps`)",
    )
    parser.add_argument(
        "--store",
        default=os.environ.get(STORE_VARIABLE) or "memory",
        metavar="memory|sqlite:PATH|postgresql://USER@HOST:PORT/DB",
        help="where state lives: in this process (default), in a SQLite file that survives"
        " restarts and is shared by --workers, or in a PostgreSQL database shared by replicas"
        " (no password in the URL: PGPASSWORD, ~/.pgpass or PGPASSFILE; `postgresql://` alone"
        f" takes everything from the PG* variables) (default: ${STORE_VARIABLE}, or memory)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="serve with N processes (needs --store sqlite:PATH or postgresql://...;"
        " default: %(default)s)",
    )
    parser.add_argument(
        "--validate-responses",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="check every response against the contract as it leaves; a breach answers 500"
        " (default: off, for speed; the test suite turns it on)",
    )
    parser.add_argument(
        "--lifecycle",
        metavar="auto:DURATION",
        help="move each resource that has a lifecycle (a refund) one step along its forward"
        " path after DURATION in a status (e.g. auto:5s, auto:500ms, auto:1m), to its end",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=ConnectionLimits.header_timeout,
        metavar="SECONDS",
        help="close a connection whose request headers take longer (default: %(default)s)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=ConnectionLimits.body_timeout,
        metavar="SECONDS",
        help="answer 408 and close a connection whose request body takes longer to arrive,"
        " from its last header (default: %(default)s)",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        default=ConnectionLimits.max_header_bytes,
        metavar="N",
        help="answer 431 to a request line and headers larger than this (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=ConnectionLimits.keep_alive,
        metavar="SECONDS",
        help="close an idle connection after this long (default: %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=ConnectionLimits.max_connections,
        metavar="N",
        help="connections open at once; one more closes the one idle longest"
        " (default: %(default)s)",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        default=SessionLimits.max_sessions,
        metavar="N",
        help="sessions (X-Mock-Session) that may exist at once; more are refused with a 400"
        " until some are deleted (default: %(default)s)",
    )
    parser.add_argument(
        "--max-open-sessions",
        type=int,
        default=SessionLimits.max_open,
        metavar="N",
        help="sessions whose store stays open at once; the least recently used is closed and"
        " opens again when next used (default: %(default)s)",
    )
    parser.add_argument(
        "--session-idle",
        type=float,
        default=SessionLimits.idle_seconds,
        metavar="SECONDS",
        help="close the store of a session unused this long (default: %(default)s)",
    )
    parser.add_argument(
        "--session-expire",
        type=float,
        default=None,
        metavar="SECONDS",
        help="delete a session unused this long, by any worker or replica; 0 never does"
        f" (default: {EXPIRE_SHARED_S:g} on SQLite and PostgreSQL, never on memory)",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        default=1000,
        metavar="N",
        help="requests kept per session for GET /__mock__/requests (default: %(default)s;"
        " 0 keeps none)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="the least a log line must be to be written; the access log is info, its 401s"
        " debug (default: %(default)s)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one object a line, for log collectors (default: %(default)s)",
    )
    parser.add_argument(
        "--journal-max-mb",
        type=float,
        default=MockConfig.journal_max_mb,
        metavar="MB",
        help="the journal's entries of all sessions together stay under this, the oldest of"
        " the largest session going first (default: %(default)s)",
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> MockConfig:
    """The mock's configuration from parsed options; ValueError for a bad combination."""
    credentials: dict[str, Credentials] = {}
    for vendor in VENDORS:
        given = getattr(args, f"{vendor.name}_credentials")
        given += secret_lines(
            getattr(args, f"{vendor.name}_credentials_file"), vendor.credentials.variable
        )
        if given:
            credentials[vendor.name] = vendor.credentials.parse(given)
    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be 1-65535, not {args.port}")
    if args.state is not None and args.seed:
        raise ValueError("--state is a whole state: give it without --start-data")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if args.workers > 1 and not store_backend(args.store).shared:
        raise ValueError(
            "--workers needs a store the processes can share: add --store sqlite:PATH or"
            " postgresql://... (the memory store lives inside one process)"
        )
    if args.journal_size < 0:
        raise ValueError("--journal-size must be 0 or more")
    if not (MIN_JOURNAL_MB <= args.journal_max_mb < float("inf")):
        raise ValueError(f"--journal-max-mb must be a number of at least {MIN_JOURNAL_MB}")
    if not resolves(args.host):  # before the token rule, which a misspelt name would trip
        raise ValueError(unresolved(args.host))
    if not args.no_control and args.control_token is None and not is_loopback(args.host):
        raise ValueError(
            f"--host {args.host} opens the control API (reset, state, faults) to the network:"
            f" give --control-token (or ${TOKEN_VARIABLE}), or --no-control"
        )
    if min(args.header_timeout, args.keep_alive, args.body_timeout) <= 0:
        raise ValueError("--header-timeout, --body-timeout and --keep-alive must be above 0")
    if args.max_connections < 1 or args.max_header_bytes < 1024:
        raise ValueError("--max-connections must be 1 or more, --max-header-bytes 1024 or more")
    if args.session_expire is not None and not 0 <= args.session_expire < float("inf"):
        raise ValueError("--session-expire must be a number of seconds, 0 for never")
    if args.max_sessions < 0 or args.max_open_sessions < 1 or args.session_idle <= 0:
        raise ValueError(
            "--max-sessions must be 0 or more, --max-open-sessions 1 or more,"
            " --session-idle above 0"
        )
    return MockConfig(
        lifecycle_step=parse_lifecycle(args.lifecycle) if args.lifecycle else None,
        journal_size=args.journal_size,
        journal_max_mb=args.journal_max_mb,
        credentials=credentials,
        demo=not args.no_demo and args.state is None,
        seed_files=tuple(args.seed),
        start_state=args.state,
        control=not args.no_control,
        validate_responses=args.validate_responses,
        store=args.store,
        session_limits=SessionLimits(
            args.max_sessions,
            args.max_open_sessions,
            args.session_idle,
            session_expiry(args.session_expire, store_backend(args.store).shared),
        ),
        control_origins=frozenset(origin.rstrip("/") for origin in args.control_origin),
        control_token=args.control_token,
    )


def secret_lines(path: Path | None, variable: str) -> list[str]:
    """Credentials from a file and from an environment variable: one a line, blank lines and
    ``#`` comments left out."""
    texts = [os.environ.get(variable, "")]
    if path is not None:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read credentials from {path}: {exc}") from None
    lines = (line.strip() for text in texts for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        config = config_from(args)
        # Before the app: a taken port should not wait for the contracts to load.
        listening = listen(args.host, args.port)
        # Built here even with workers: it checks the options, loads the fixtures into the
        # store once, and gives the banner its data.
        app = build_app(config)
    except (ValueError, FixturesError, StoreError, CannotListen) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    logger.info("%s", banner(app, config, args.host, args.port))
    if args.workers == 1:
        server = uvicorn.Server(uvicorn.Config(app, **serving_options(args, app)))
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a developer stops it
            server.run(sockets=[listening])
        return 0 if server.started else 1
    app.close()
    os.environ[ARGV_VARIABLE] = json.dumps(argv)
    workers = uvicorn.Config(
        "mock_server.command:worker_app",
        factory=True,
        workers=args.workers,
        **serving_options(args, app),
    )
    # The socket bound before the app was built is the workers' own: connections made while
    # they start wait in its backlog, where binding anew would have reset them.
    with contextlib.suppress(KeyboardInterrupt):
        WorkerSupervisor(workers, sockets=[listening]).run()
    return 0


LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_JOURNAL_MB = 0.1  # room for a few entries with large bodies
TEXT_FORMAT = "%(levelname)s:     %(message)s"


def _access_fields(record: logging.LogRecord) -> dict[str, Any] | None:
    """An access log line's request, as uvicorn gives it (client, method, path, HTTP version,
    status); None for any other record."""
    arguments = record.args if isinstance(record.args, tuple) else ()
    if record.name != "uvicorn.access" or len(arguments) != 5:
        return None
    client, method, path, version, status = arguments
    return {"client": client, "method": method, "path": path, "http": version, "status": status}


class JsonLines(logging.Formatter):
    """A log record as one JSON object; an access line with its request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_access_fields(record) or {})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, form: str, refusals_at_debug: bool = True) -> None:
    """Every logger of the process (ours, uvicorn's, its access log) through one handler;
    ``refusals_at_debug``: the access log's 401s only at debug (the mock's, not the proxy's,
    where a 401 is the target refusing the app's credentials)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Connexion says each refused credential at info ("No auth provided. Aborting with 401"):
    # a conformance run would write a thousand such lines. They show from debug only.
    chosen = logging.getLevelName(level.upper())
    logging.getLogger("connexion").setLevel(
        logging.DEBUG if chosen == logging.DEBUG else max(chosen, logging.WARNING)
    )
    access = logging.getLogger("uvicorn.access")
    access.removeFilter(_refused_credentials_unlogged)
    if refusals_at_debug and chosen != logging.DEBUG:
        access.addFilter(_refused_credentials_unlogged)


def _refused_credentials_unlogged(record: logging.LogRecord) -> bool:
    """The access log leaves out 401s above debug: a conformance run sends hundreds of requests
    without credentials on purpose. The journal keeps each, with the reason."""
    fields = _access_fields(record)
    return fields is None or fields["status"] != 401


def serving_options(args: argparse.Namespace, app: MockApp) -> dict[str, Any]:
    """uvicorn's options for these arguments: where to listen, and connection hygiene (the
    HTTP protocol's own refusals in the error shape of ``app``'s API the path is under)."""
    limits = ConnectionLimits(
        header_timeout=args.header_timeout,
        keep_alive=args.keep_alive,
        max_connections=args.max_connections,
        body_timeout=args.body_timeout,
        max_header_bytes=args.max_header_bytes,
    )
    return {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": None,  # uvicorn's loggers write through configure_logging's handler
        "http": GuardedHttp(limits, app.errors.before_app),
        "timeout_keep_alive": limits.keep_alive,
    }


def session_expiry(asked: float | None, shared: bool) -> float | None:
    """``--session-expire`` as SessionLimits takes it: None for never. A shared store (a team's
    mock) expires after a day by default; one process's memory goes with the process anyway."""
    if asked is None:
        return EXPIRE_SHARED_S if shared else None
    return asked or None


def resolves(host: str) -> bool:
    """Whether ``host`` is a name or address this machine can listen on."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    return True


def unresolved(host: str) -> str:
    return f"--host {host!r} is not a name or address this machine resolves"


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port``, or CannotListen naming what is wrong."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise CannotListen(unresolved(host)) from None
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a port whose old connections are in TIME_WAIT is free to listen on.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reasons = {
            errno.EADDRINUSE: f"port {port} on {host} is in use (another server? try --port)",
            errno.EADDRNOTAVAIL: f"--host {host} is not an address of this machine",
            errno.EACCES: f"no permission to listen on port {port}",
        }
        reason = reasons.get(exc.errno or 0, f"cannot listen on {host}:{port}: {exc}")
        raise CannotListen(reason) from None
    sock.set_inheritable(True)
    return sock


def worker_app() -> Any:
    """The app of one worker process, built from the options the parent was given."""
    exit_with_supervisor(os.getppid())
    args = parse_args(json.loads(os.environ[ARGV_VARIABLE]))
    configure_logging(args.log_level, args.log_format)
    return build_app(config_from(args))


def exit_with_supervisor(supervisor: int, every_s: float = 1.0) -> threading.Thread:
    """Shut this worker down (as SIGTERM would) once its supervisor is gone: an orphaned worker
    would go on serving, unsupervised, a port nobody means to be open."""

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(every_s)
        logger.warning("the supervisor (pid %d) is gone: this worker stops", supervisor)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, name="supervisor-watch", daemon=True)
    watcher.start()
    return watcher


def banner(app: MockApp, config: MockConfig, host: str, port: int) -> str:
    root = f"http://{host}:{port}"
    lines = ["refund contract kit mock"]
    for api in app.apis.values():
        lines.append(f"  {api.vendor.title}:")
        for path in api.base_paths:
            lines.append(f"    {root}{path}   (Swagger UI: {root}{path}/ui/)")
        options = api.vendor.credentials
        lines.append(f"    {options.meaning}: {options.describe(api.credentials)}")
        lines += [f"    {line}" for line in app.banner(api)]
    if config.control:
        hint = "  (add #token=YOUR_TOKEN to the address)" if config.control_token else ""
        lines.append(f"  Dashboard: {root}{CONTROL_PATH}/{hint}")
        lines.append(f"  Control API: {root}{CONTROL_PATH}/health")
    if config.start_state is not None:
        lines.append(f"  Started on the state in {config.start_state} (a reset returns to it)")
    lines.append(f"  Store: {app.backend.described()}")
    lines.append(f"  Probes: {root}{CONTROL_PATH}{LIVE_PATH}, {root}{CONTROL_PATH}{READY_PATH}")
    return "\n".join(lines)
