"""The pytest plugin behind the suite: options, target, setup data, selection, report.

Loaded by the ``pytest11`` entry point, so ``pytest --pyargs conformance.suite --conformance-api
...`` works in any project that installs the kit. Inert unless ``--conformance-api`` is given.
"""

from __future__ import annotations

import datetime
import re
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from conformance import baseline, spending
from conformance.fixtures import (
    FileSetup,
    MockSetup,
    NoFixtures,
    NoSetupData,
    NotApplicable,
    SetupData,
)
from conformance.options import (
    EXIT_INCONCLUSIVE,
    EXIT_UNUSABLE,
    EXIT_VIOLATIONS,
    OPTIONS,
    RunOptions,
    UsageError,
    redact,
    run_options,
)
from conformance.target import (
    SESSION_HEADER,
    NotTestable,
    Unreachable,
    check_target,
    delete_mock_session,
    session_expiry,
)
from conformance.vendors import setup_module
from mock_server.http_clients import tls_context

# The report (and through it Schemathesis) is imported only when a suite runs: this module is
# loaded by every pytest run of a project with the kit installed, with only the [mock] extra too.
if TYPE_CHECKING:
    from conformance.report import Outcome, Report

PREFIX = "conformance-"
STATE_KEY = pytest.StashKey["SuiteState"]()
READ_ONLY_REASON = "left out by --read-only: it creates or changes data"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class SuiteState:
    options: RunOptions
    setup: SetupData = field(default_factory=NoFixtures)
    mock_control: str | None = None
    # Against this kit's mock, everything happens in a session of the run's own (deleted at the
    # end), so the developer's state and journal are left as they were.
    mock_session: str | None = None
    deadline: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    given_back: list[str] = field(default_factory=list)  # what the run gave back and left

    @property
    def headers(self) -> dict[str, str]:
        """Headers every request of the run carries."""
        return {SESSION_HEADER: self.mock_session} if self.mock_session else {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "refund contract kit: conformance suite")
    for option in OPTIONS:
        dest = "conformance_" + option.name.replace("-", "_")
        spellings = [f"--{PREFIX}{name}" for name in (option.name, *option.aliases)]
        if option.flag:
            group.addoption(*spellings, dest=dest, action="store_true", help=option.help)
        else:
            group.addoption(
                *spellings,
                dest=dest,
                type=option.type,
                default=option.default,
                metavar=option.metavar,
                help=option.help,
            )


def spelled_for_pytest(message: str) -> str:
    """A message naming the suite's options, as pytest spells them (``--conformance-api``);
    other commands' options (``refund-mock --start-data``) stay as they are."""
    names = "|".join(
        re.escape(name) for option in OPTIONS for name in (option.name, *option.aliases)
    )
    return re.sub(rf"--({names})\b", rf"--{PREFIX}\1", message)


def state(config: pytest.Config) -> SuiteState | None:
    return config.stash.get(STATE_KEY, None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance_api(name): a conformance test of one API")
    config.addinivalue_line("markers", "mutates: creates or changes data (skipped by --read-only)")
    if not config.getoption("conformance_api"):
        return
    values = {
        option.name.replace("-", "_"): config.getoption(
            "conformance_" + option.name.replace("-", "_")
        )
        for option in OPTIONS
    }
    try:
        options = run_options(values)
    except UsageError as exc:
        raise pytest.UsageError(spelled_for_pytest(str(exc))) from exc
    if options.seed is not None:
        # Hypothesis reads its seed in its own pytest_configure, which runs after this one.
        config.option.hypothesis_seed = options.seed
    config.stash[STATE_KEY] = SuiteState(options=options)


# Against this kit's mock a setup data file would be ignored (the suite makes its own there):
# refused, saying why, rather than ignored in silence.
SETUP_DATA_ON_THE_MOCK = (
    "the target is this kit's mock, where the suite makes its own setup data (through the"
    " control API, in a session of the run's own): --setup-data is for other targets; leave it"
    " out"
)


def _target(options: RunOptions) -> httpx.Client:
    """A client for the reads and moves around the tests (setup checks, giving back), paced
    by --max-rps as the tests are."""
    from conformance.http import RateLimiter  # it imports Schemathesis: only in a suite run

    limiter = RateLimiter(options.max_rps)
    return httpx.Client(
        base_url=options.base_url,
        auth=options.auth,
        timeout=30,
        verify=tls_context(),
        event_hooks={"request": [lambda _: limiter.wait()]},
    )


def shortfalls(options: RunOptions) -> list[str]:
    """What the setup data file names that cannot carry a run as the target has it now."""
    if options.setup_data is None or options.read_only:  # a read-only run spends nothing
        return []
    found: list[str] = []
    setup = FileSetup(options.setup_data).vendor(options.api)
    check = getattr(setup, "shortfalls", None)
    if check is not None:
        try:
            with _target(options) as http:
                found = list(check(http))
        except (httpx.HTTPError, ValueError):
            return []  # no clear answer: the tests will say what they find
    return found


def inconclusive_setup(short: list[str]) -> str:
    return (
        "INCONCLUSIVE: the setup data cannot carry a run (a run would fail for want of it, not"
        " for the target): " + "; ".join(short)
    )


def _give_back(suite: SuiteState) -> list[str]:
    """Against a target with a setup data file, give back what the run spent (what the API
    allows), and say what it left behind."""
    if not isinstance(suite.setup, FileSetup) or suite.options.read_only:
        return []
    give_back = getattr(setup_module(suite.options.api), "give_back", None)
    if give_back is None:
        return []
    try:
        with _target(suite.options) as http:
            lines: list[str] = give_back(http, spending.ledger())
    except Exception as exc:  # giving back must never change what the run found
        return [f"could not give back what the run spent: {type(exc).__name__}: {exc}"]
    return lines


def pytest_sessionstart(session: pytest.Session) -> None:
    suite = state(session.config)
    if suite is None:
        return
    options = suite.options
    try:
        control = check_target(options.base_url, options.api, options.auth, options.read_only)
    except Unreachable as exc:
        pytest.exit(f"target unreachable: {exc}", returncode=EXIT_UNUSABLE)
    except NotTestable as exc:
        pytest.exit(str(exc), returncode=EXIT_UNUSABLE)
    spending.clear()
    if control is not None and options.setup_data is not None:
        pytest.exit(spelled_for_pytest(SETUP_DATA_ON_THE_MOCK), returncode=EXIT_UNUSABLE)
    if control is not None:
        suite.mock_control = control.url
        # A read-only run makes nothing, not even a session or setup data: it reads as it is.
        if not options.read_only:
            suite.mock_session = f"conformance-{uuid.uuid4().hex[:12]}"
            suite.setup = MockSetup(control.url, suite.mock_session)
    elif options.setup_data is not None:
        suite.setup = FileSetup(options.setup_data)
        short = shortfalls(options)
        if short:
            pytest.exit(inconclusive_setup(short), returncode=EXIT_INCONCLUSIVE)
    if options.time_limit:
        suite.deadline = time.monotonic() + options.time_limit
    # Loading the contracts takes a while: after the option checks, so usage errors are fast.
    from conformance import contracts

    contracts.configure(options, _pinned_parameters(suite), suite.headers)


def _pinned_parameters(suite: SuiteState) -> dict[str, str]:
    try:
        from conformance.vendors import setup_module

        api = suite.options.api
        pinned: dict[str, str] = setup_module(api).pinned_parameters(suite.setup.vendor(api))
        return pinned
    except NoSetupData:
        return {}  # generated requests then mostly meet 404s; behaviour tests say what is missing


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, Any]:
    """Another API's property tests and sequences are not collected: Schemathesis would work
    out all their cases first (about a second a run), only for them to be deselected. Around
    Schemathesis' own hook, which makes the collector whose collecting costs that second."""
    made = yield
    suite = state(collector.config)
    if suite is None or not made:
        return made  # not a conformance run, or nothing pytest would collect
    api = _api_of(obj)
    return [] if api is not None and api != suite.options.api else made


def _api_of(obj: object) -> str | None:
    """The API a test's ``conformance_api`` mark names. Any object of a test module can come
    here (a mock's ``call`` answers every attribute): only real marks count."""
    try:
        marks = list(getattr(obj, "pytestmark", []))
    except Exception:  # a property of someone else's object may raise anything
        return None
    for mark in marks:
        if isinstance(mark, pytest.Mark) and mark.name == "conformance_api" and mark.args:
            return str(mark.args[0])
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    suite = state(config)
    if suite is None:
        return
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("conformance_api")
        if marker is not None and marker.args[0] != suite.options.api:
            deselected.append(item)  # the other vendor's: not part of this run at all
            continue
        if suite.options.read_only and (item.get_closest_marker("mutates") or _writes(item)):
            # Listed, as skipped with the reason: the report says what was not checked.
            item.add_marker(pytest.mark.skip(reason=READ_ONLY_REASON))
        selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # Behaviour first: generated requests may use up the credit balances the rules are tried on.
    items[:] = sorted(selected, key=lambda item: "behaviour" not in item.nodeid)


def _writes(item: pytest.Item) -> bool:
    """Whether a property test is of an operation that is not a read (POST, PUT, ...)."""
    return any(f"[{method} " in item.name for method in WRITES)


def pytest_runtest_setup(item: pytest.Item) -> None:
    suite = state(item.config)
    if suite is not None and suite.deadline is not None and time.monotonic() > suite.deadline:
        pytest.skip(f"time limit of {suite.options.time_limit:g} s reached")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, Any, None]:
    outcome = yield
    suite = state(item.config)
    if suite is None:
        return
    report: pytest.TestReport = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(NoSetupData):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")
    _scrub(report, suite.options.secrets)
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        from conformance.report import outcome_of

        # Skips the user chose (--read-only) or that cannot apply to this target (it is not
        # the mock) leave the verdict conclusive; a time limit or missing setup data do not.
        by_choice = item.get_closest_marker("skip") is not None
        not_applicable = call.excinfo is not None and call.excinfo.errisinstance(NotApplicable)
        suite.outcomes.append(
            outcome_of(
                item,
                report,
                call,
                suite.options.secrets,
                skip_by_choice=by_choice,
                not_applicable=not_applicable,
            )
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The run's verdict becomes its exit status; the JUnit file is written; the mock session
    the run worked in is deleted."""
    suite = state(session.config)
    if suite is None:
        return
    suite.given_back = _give_back(suite)
    report = _report(suite)
    verdict = report.verdict()
    # Violations are reproduced in the run's session (the curl lines name it): kept then.
    if suite.mock_control and suite.mock_session and verdict.exit_status != EXIT_VIOLATIONS:
        delete_mock_session(suite.mock_control, suite.mock_session)
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return  # interrupted, an internal error, a usage error: pytest's own status stands
    session.exitstatus = verdict.exit_status
    if suite.options.junit_xml is not None:
        report.write_junit(suite.options.junit_xml)
    if suite.options.write_baseline is not None:
        today = datetime.datetime.now(datetime.UTC).date()
        entries = report.baseline_entries(baseline.default_reason(today))
        baseline.write(suite.options.write_baseline, entries)


def _report(suite: SuiteState) -> Report:
    """The run's report, verdict and JUnit file, from what the tests found."""
    from conformance.report import Report

    return Report(
        api=suite.options.api,
        base_url=suite.options.base_url,
        mock_control=suite.mock_control,
        options=suite.options,
        outcomes=suite.outcomes,
        answered=_answered(),
        mock_session=suite.mock_session,
        mock_session_expiry=(
            session_expiry(suite.mock_control)
            if suite.mock_control and suite.mock_session
            else None
        ),
        known=baseline.load(suite.options.baseline) if suite.options.baseline else [],
        given_back=suite.given_back,
    )


def _scrub(report: pytest.TestReport, secrets: list[str]) -> None:
    """Credentials never reach the console, the JUnit file or any captured output."""
    text = report.longreprtext
    if report.longrepr is not None and redact(text, secrets) != text:
        report.longrepr = redact(text, secrets)
    report.sections = [(title, redact(content, secrets)) for title, content in report.sections]


def _answered() -> dict[str, int]:
    from conformance import contracts  # loaded by now, unless the run stopped before it

    return dict(contracts.ANSWERED)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    suite = state(config)
    if suite is None:
        return
    for line in _report(suite).lines():
        terminalreporter.write_line(redact(line, suite.options.secrets))
