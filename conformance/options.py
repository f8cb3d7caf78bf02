"""The suite's options, shared by the CLI (``--api``) and pytest (``--conformance-api``)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance import baseline
from mock_server.registry import VENDORS

_NAMES = [vendor.name for vendor in VENDORS]

DEFAULT_MAX_EXAMPLES = 25

# What a run's exit status means, for CI (the CLI's and pytest's alike).
EXIT_CONFORMS = 0
EXIT_VIOLATIONS = 1
EXIT_UNUSABLE = 2  # a usage error, or a target that cannot be tested as given
EXIT_INCONCLUSIVE = 3  # too little ran to say it conforms (skips, a time limit, no setup data)


@dataclass(frozen=True)
class Option:
    name: str  # CLI spelling without dashes; pytest adds the "conformance-" prefix
    help: str
    type: Any = str
    default: Any = None
    flag: bool = False
    metavar: str | None = None
    aliases: tuple[str, ...] = ()  # earlier spellings, kept working for a release


OPTIONS = (
    Option(
        "api",
        f"which contract to check: {' or '.join(_NAMES)}",
        metavar="{" + ",".join(_NAMES) + "}",
    ),
    Option(
        "base-url",
        "the API root the contract's paths hang from, e.g. http://127.0.0.1:8080/v3",
        metavar="URL",
    ),
    Option(
        "auth",
        "HTTP Basic credentials: "
        + "; ".join(f"{vendor.title}: {vendor.credentials.suite_hint}" for vendor in VENDORS)
        + ". Never printed",
        metavar="USER:PASS",
    ),
    Option(
        "setup-data",
        "the suite's setup data: a YAML file naming existing accounts and debits to test with,"
        " for a target that is not this kit's mock (the mock makes its own through its control"
        " API); see conformance/example-fixtures.yaml. Not the mock's start data"
        " (refund-mock --start-data). Formerly --fixtures",
        type=Path,
        metavar="FILE",
        aliases=("fixtures",),
    ),
    Option(
        "read-only",
        "skip everything that creates or changes data (for shared sandboxes)",
        flag=True,
    ),
    Option(
        "max-examples",
        f"generated cases per operation and property (default {DEFAULT_MAX_EXAMPLES})",
        type=int,
        default=DEFAULT_MAX_EXAMPLES,
        metavar="N",
    ),
    Option("seed", "random seed, to repeat a run exactly", type=int, metavar="N"),
    Option("max-rps", "at most N requests a second to the target", type=int, metavar="N"),
    Option(
        "time-limit",
        "stop starting new tests after this many seconds (the ones not run are reported skipped)",
        type=float,
        metavar="SECONDS",
    ),
    Option(
        "allow-skips",
        "exit 0 when nothing failed even if tests were skipped (a time limit, missing setup"
        f" data); without it such a run is inconclusive (exit {EXIT_INCONCLUSIVE})",
        flag=True,
    ),
    Option(
        "baseline",
        "known findings (each with a reason; the format refund-contract's baselines use): they"
        " are reported, and do not fail the run; entries no longer found are reported as fixed",
        type=Path,
        metavar="FILE",
    ),
    Option(
        "write-baseline",
        "write this run's findings to FILE as known (keeping the reasons of known ones)",
        type=Path,
        metavar="FILE",
    ),
    Option(
        "junit-xml",
        "also write a JUnit XML report (for CI): a test case per operation, sequence and rule;"
        " the folder must exist",
        type=Path,
        metavar="FILE",
    ),
)


@dataclass(frozen=True)
class RunOptions:
    api: str
    base_url: str
    auth: tuple[str, str] | None
    setup_data: Path | None
    read_only: bool
    max_examples: int
    seed: int | None
    max_rps: int | None
    time_limit: float | None
    allow_skips: bool = False
    junit_xml: Path | None = None
    baseline: Path | None = None
    write_baseline: Path | None = None

    @property
    def secrets(self) -> list[str]:
        """Strings that must never appear in any output: the credentials, and the header
        value that carries them."""
        if self.auth is None:
            return []
        header = base64.b64encode(":".join(self.auth).encode()).decode()
        return [header, *(secret for secret in self.auth if len(secret) >= 3)]


REDACTED = "[redacted]"  # the one spelling of a masked credential
_AUTHORIZATION = re.compile(r"(?i)(authorization: ?)(basic|bearer) [A-Za-z0-9+/=._~-]+")


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with credentials masked, and nothing else: an Authorization header's value and
    each secret string."""
    text = _AUTHORIZATION.sub(lambda match: match.group(1) + REDACTED, text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class UsageError(ValueError):
    """Options that cannot be run; the message says which and why."""


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise UsageError(
            "--auth must be USER:PASS (an API key secret: SECRET: with the password empty)"
        )
    return user, password


def run_options(values: dict[str, Any]) -> RunOptions:
    """Check and convert raw option values (keys in snake_case)."""
    from conformance.apis import APIS

    api = values.get("api")
    if api not in APIS:
        raise UsageError(f"--api must be one of {', '.join(APIS)}")
    base_url = values.get("base_url")
    if not base_url or not base_url.startswith(("http://", "https://")):
        raise UsageError("--base-url must be an http(s) URL, e.g. http://127.0.0.1:8080/v3")
    setup_data = values.get("setup_data")
    if setup_data is not None:
        from conformance.fixtures import FixturesFileError, read_fixtures_file

        try:
            read_fixtures_file(Path(setup_data))  # a mistake is one whatever the target
        except FixturesFileError as exc:
            raise UsageError(f"--setup-data {setup_data}: {exc}") from None
    max_examples = values.get("max_examples")
    max_examples = DEFAULT_MAX_EXAMPLES if max_examples is None else max_examples
    if max_examples < 1:
        raise UsageError(f"--max-examples must be at least 1, not {max_examples}")
    if values.get("max_rps") is not None and values["max_rps"] < 1:
        raise UsageError(f"--max-rps must be at least 1, not {values['max_rps']}")
    if values.get("time_limit") is not None and not values["time_limit"] > 0:
        raise UsageError(f"--time-limit must be above 0 seconds, not {values['time_limit']}")
    if values.get("seed") is not None and values["seed"] < 0:
        raise UsageError(f"--seed must be 0 or more, not {values['seed']}")
    known = values.get("baseline")
    if known is not None:
        try:
            baseline.load(Path(known))
        except baseline.BadBaseline as exc:
            raise UsageError(str(exc)) from None
    written = values.get("write_baseline")
    if written is not None and not Path(written).resolve().parent.is_dir():
        raise UsageError(f"--write-baseline {written}: no folder {Path(written).parent}")
    junit = values.get("junit_xml")
    if junit is not None and not Path(junit).resolve().parent.is_dir():
        raise UsageError(f"--junit-xml {junit}: no folder {Path(junit).parent} to write it in")
    return RunOptions(
        api=api,
        base_url=base_url.rstrip("/"),
        auth=parse_auth(values.get("auth")),
        setup_data=Path(setup_data) if setup_data else None,
        read_only=bool(values.get("read_only")),
        max_examples=max_examples,
        seed=values.get("seed"),
        max_rps=values.get("max_rps"),
        time_limit=values.get("time_limit"),
        allow_skips=bool(values.get("allow_skips")),
        junit_xml=Path(junit) if junit is not None else None,
        baseline=Path(known) if known is not None else None,
        write_baseline=Path(written) if written is not None else None,
    )
