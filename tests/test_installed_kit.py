"""The kit as its users get it: a wheel built from this repository, installed with the locked
pins into a fresh virtualenv, used from a directory outside the repository.

The virtualenv is made once for the module (about 15 s with a warm pip cache): first with the
``[mock]`` extra alone, as a frontend developer installs it, then with pytest, as their project
has it. The CI recipe installs ``[all]`` on top, as its first step says.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import DEMO_AUTH, ROOT, free_port, har_of

pytestmark = pytest.mark.xdist_group("installed-kit")  # one virtualenv, one worker

LOCK = ROOT / "requirements.lock"
SOURCES = ("pyproject.toml", "README.md", "mock_server", "conformance", "openapi")
INSTALL_TIMEOUT_S = 300
# Without build isolation: the build backend is the one requirements.lock pins (setuptools).
BUILD_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]


@dataclass(frozen=True)
class InstalledKit:
    wheel: Path
    venv: Path
    env: dict[str, str]  # a user's shell: the virtualenv's bin first, nothing of ours
    elsewhere: Path  # a directory outside the repository
    with_mock_only: dict[str, bool]  # module -> importable, before anything else was installed

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *command: str, cwd: Path | None = None, timeout: float = 120):
        return subprocess.run(
            command,
            cwd=cwd or self.elsewhere,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


_installed: list[InstalledKit] = []  # made once per test process


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> InstalledKit:
    # pytest-xdist may tear a module fixture down between two tests of the module (when its
    # queue runs dry); the virtualenv outlives that, here, for the rest of the session.
    if not _installed:
        _installed.append(_install(tmp_path_factory.mktemp("installed-kit")))
    return _installed[0]


def kit_checkout(into: Path) -> Path:
    """The kit's sources as a checkout of its repository has them."""
    into.mkdir(parents=True)
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, into / name, **_without_caches(ROOT / name))
    return into


def _install(work: Path) -> InstalledKit:
    source = kit_checkout(work / "source")
    _check(
        subprocess.run(
            [*BUILD_WHEEL, "-w", str(work / "dist"), str(source)],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    )
    (wheel,) = (work / "dist").glob("refund_contract_kit-*.whl")
    venv = work / "venv"
    _check(subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True))
    env = _user_environment(venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-compile", "--quiet"]
    pip += ["-c", str(LOCK)]
    _check(subprocess.run([*pip, f"{wheel}[mock]"], env=env, capture_output=True, text=True))
    with_mock_only = _importable(venv, env, ["connexion", "pytest", "schemathesis", "hypothesis"])
    _check(subprocess.run([*pip, "pytest"], env=env, capture_output=True, text=True))
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return InstalledKit(wheel, venv, env, elsewhere, with_mock_only)


def _without_caches(path: Path) -> dict:
    return {"ignore": shutil.ignore_patterns("__pycache__", "*.pyc")} if path.is_dir() else {}


def _user_environment(venv: Path) -> dict[str, str]:
    ours = str(Path(sys.executable).parent)
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if entry != ours]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *path])
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _importable(venv: Path, env: dict[str, str], modules: list[str]) -> dict[str, bool]:
    probe = (
        "import importlib.util, sys;"
        " print(*(bool(importlib.util.find_spec(m)) for m in sys.argv[1:]))"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe, *modules],
        env=env,
        capture_output=True,
        text=True,
    )
    _check(result)
    return dict(zip(modules, (word == "True" for word in result.stdout.split()), strict=True))


def _check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"[-4000:]


def stop_group(leader: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM every process of the group ``leader`` leads, then SIGKILL whatever is left after
    ``timeout``; the leader reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader.poll()  # reaped as it ends: a zombie leader keeps its group alive
            os.killpg(leader.pid, 0)  # ProcessLookupError once the group is empty
            time.sleep(0.1)
        os.killpg(leader.pid, signal.SIGKILL)
    leader.wait(timeout=timeout)


@contextlib.contextmanager
def process_group(command: list[str], kit: InstalledKit, cwd: Path, log: Path) -> Iterator[None]:
    """Run ``command`` in a process group of its own; stop the whole group at the end."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=kit.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield
    finally:
        stop_group(process)


def wait_for(url: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer:\n{log.read_text()}")


def processes_in(directory: Path) -> list[str]:
    """Command lines of the processes whose working directory is ``directory``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if Path(os.readlink(proc / "cwd")) == directory:
                found.append((proc / "cmdline").read_text().replace("\0", " "))
    return found


# What is installed ---------------------------------------------------------------------------


def test_the_mock_extra_brings_the_server_but_no_test_tooling(kit):
    assert kit.with_mock_only == {
        "connexion": True,
        "pytest": False,
        "schemathesis": False,
        "hypothesis": False,
    }


def test_the_wheel_carries_the_contracts_and_the_files_the_tools_read(kit):
    names = set(zipfile.ZipFile(kit.wheel).namelist())
    for contract in ROOT.joinpath("openapi").glob("*.yaml"):
        assert f"mock_server/contracts/{contract.name}" in names
    for data in (
        "mock_server/demo.yaml",
        "mock_server/control/dashboard.html",
        "conformance/pytest.ini",
        "conformance/example-fixtures.yaml",
    ):
        assert data in names
    # The conformance extra brings no server stack.
    metadata = (
        zipfile.ZipFile(kit.wheel)
        .read(next(name for name in names if name.endswith(".dist-info/METADATA")))
        .decode()
    )
    conformance = re.findall(r"Requires-Dist: (\S+).*extra == \"conformance\"", metadata)
    assert conformance and not {"connexion", "uvicorn", "starlette"} & {
        re.split(r"[\[<>=;]", requirement)[0].lower() for requirement in conformance
    }


def test_the_suite_and_its_plugins_import_none_of_the_mock_server_stack():
    # `[conformance]` brings no Connexion, Starlette or uvicorn: the suite must not need them.
    probe = (
        "import sys, conformance.command, conformance.plugin, conformance.contracts,"
        " conformance.suite.conftest, mock_server.pytest_plugin;"
        " print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'connexion', 'starlette', 'uvicorn', 'orjson'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    _check(result)
    assert result.stdout.strip() == "[]"


# The mock, as a frontend developer runs it ---------------------------------------------------


def test_the_console_script_serves_the_mock_and_its_contracts_from_any_directory(kit):
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    log = kit.elsewhere / "refund-mock.log"
    with process_group([kit.bin("refund-mock"), "--port", str(port)], kit, kit.elsewhere, log):
        wait_for(f"{root}/__mock__/health", log)
        accounts = httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH).json()["data"]
        assert "demo_account_credit_balance" in {account["token"] for account in accounts}
        contract = httpx.get(f"{root}/v3/openapi.json").json()
        assert "AccountCreditBalanceRefundReq" in contract["components"]["schemas"]
        assert httpx.get(f"{root}/v1/openapi.yaml").text.count("$ref") > 50
        assert httpx.get(f"{root}/__mock__/").status_code == 200  # the dashboard
        # The proxy from the same install, in front of it, holds both directions to the contract.
        proxy_port = free_port()
        proxy = f"http://127.0.0.1:{proxy_port}"
        proxy_log = kit.elsewhere / "refund-mock-proxy.log"
        forwarding = [
            kit.bin("refund-mock"),
            "proxy",
            "--api",
            "marqeta",
            "--target",
            f"{root}/v3",
            "--port",
            str(proxy_port),
            *("--fallback", "mock", "--journal-size", "10", "--record", "recorded.json"),
        ]
        with process_group(forwarding, kit, kit.elsewhere, proxy_log):
            wait_for(f"{proxy}/__mock__/proxy/report", proxy_log)
            through = httpx.get(f"{proxy}/v3/accounts", auth=DEMO_AUTH)
            assert through.json() == httpx.get(f"{root}/v3/accounts", auth=DEMO_AUTH).json()
            assert "x-mock-contract-violations" not in through.headers
            report = httpx.get(f"{proxy}/__mock__/proxy/report").json()
            assert report["operations"]["listAccounts"] == {
                "exchanges": 1,
                "broken": 0,
                "unanswered": 0,
                "fallback": 0,
                "violations": {},
                "examples": {},
            }
            (journaled,) = httpx.get(f"{proxy}/__mock__/requests").json()["requests"]
            assert (journaled["operation"], journaled["answered_by"]) == ("listAccounts", "target")
            assert httpx.get(f"{proxy}/__mock__/").status_code == 200  # the proxy's dashboard
    assert "the mock (demo data)" in proxy_log.read_text()  # --fallback mock, as the banner says
    assert f"Dashboard: {root}/__mock__/" in log.read_text()
    assert "Traceback" not in log.read_text() + proxy_log.read_text()
    # What the proxy recorded (written as it stopped) is a state the mock starts on.
    replayed = kit.elsewhere / "refund-mock-recorded.log"
    port = free_port()
    on_it = [kit.bin("refund-mock"), "--state", "recorded.json", "--port", str(port)]
    with process_group(on_it, kit, kit.elsewhere, replayed):
        wait_for(f"http://127.0.0.1:{port}/__mock__/health", replayed)
        again = httpx.get(f"http://127.0.0.1:{port}/v3/accounts", auth=DEMO_AUTH)
        assert again.json() == through.json()
    assert "Started on the state in recorded.json" in replayed.read_text()


def test_the_postgresql_store_needs_its_extra_and_says_so(kit, postgres):
    # The [mock] install alone: one line saying what to install, no traceback.
    without = kit.run(kit.bin("refund-mock"), "--store", postgres.new_database())
    assert without.returncode == 2
    assert "pip install 'refund_contract_kit-0.1.0-py3-none-any.whl[mock,postgresql]'" in (
        without.stderr
    )
    # And the extra brings the driver and its pool (tests/test_replicas.py runs replicas on it).
    names = zipfile.ZipFile(kit.wheel).namelist()
    metadata = zipfile.ZipFile(kit.wheel).read(
        next(name for name in names if name.endswith(".dist-info/METADATA"))
    )
    required = re.findall(r"Requires-Dist: ([^;\s]+).*extra == \"postgresql\"", metadata.decode())
    assert required == ["psycopg[binary,pool]<4,>=3.3"]


def test_python_dash_m_spellings_work_as_well(kit):
    result = kit.run(kit.bin("python"), "-m", "mock_server", "--help")
    _check(result)
    assert "usage:" in result.stdout
    # With or without the conformance extra yet (the CI recipe's test installs it), the module
    # answers as the script does.
    module = kit.run(kit.bin("python"), "-m", "conformance", "--help")
    script = kit.run("refund-conformance", "--help")
    assert (module.returncode, module.stdout, module.stderr) == (
        script.returncode,
        script.stdout,
        script.stderr,
    )


# The fixture, as another project's tests use it ----------------------------------------------


ISOLATION_TESTS = """
import httpx

ACCOUNT = "/accounts/demo_account_credit_balance"


def test_a_refund_made_here(refund_mock):
    with refund_mock.client("marqeta") as marqeta:
        made = marqeta.post(ACCOUNT + "/refunds", json={
            "token": "only_in_this_test", "method": "ACH",
            "type": "CREDIT_BALANCE_REFUND", "amount": 100})
        assert made.status_code == 201, made.text


def test_is_not_seen_by_the_next_test(refund_mock):
    with refund_mock.marqeta() as marqeta:
        assert marqeta.get(ACCOUNT + "/refunds/only_in_this_test").status_code == 404
        assert marqeta.get(ACCOUNT).json()["current_balance"] == -1250


def test_nor_by_the_shared_default_state(refund_mock):
    auth = refund_mock.auth("marqeta")
    url = refund_mock.url("marqeta") + ACCOUNT + "/refunds/only_in_this_test"
    assert httpx.get(url, auth=auth).status_code == 404
    # The first release's names, kept as aliases.
    assert (refund_mock.marqeta_auth, refund_mock.marqeta_url) == (auth, refund_mock.url("marqeta"))
    with refund_mock.balanced() as balanced:
        assert balanced.get("/marketplaces").status_code == 200


def test_each_test_has_its_own_session_which_goes_with_it(refund_mock, refund_mock_server):
    with refund_mock.control() as control:
        sessions = control.get("/sessions").json()["sessions"]
    assert refund_mock.session in sessions
    assert not [name for name in sessions if "test_a_refund_made_here" in name]
    assert refund_mock.server == refund_mock_server
"""


def python_block_after(page: Path, heading: str) -> str:
    """The first ```python block after ``heading`` in a Markdown page."""
    text = page.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    found = re.search(r"```python\n(.*?)```", after, re.S)
    assert found is not None, f"no python block after {heading!r}"
    return found.group(1)


def test_a_project_uses_the_refund_mock_fixture_as_documented(kit):
    project = kit.elsewhere / "their-project"
    (project / "tests").mkdir(parents=True)
    examples = {
        "test_readme_example.py": python_block_after(ROOT / "README.md", "## Python tests"),
        "test_docs_example.py": python_block_after(
            ROOT / "docs" / "pytest.md", "# The `refund_mock`"
        ),
        "test_verification.py": python_block_after(
            ROOT / "docs" / "pytest.md", "## Verifying what your code called"
        ),
        "test_isolation.py": ISOLATION_TESTS,
    }
    for name, code in examples.items():
        (project / "tests" / name).write_text(code)
    result = kit.run(kit.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    _check(result)
    assert "7 passed" in result.stdout, result.stdout
    assert "warning" not in result.stdout.lower(), result.stdout
    assert processes_in(project) == []  # the mock and everything it started are gone


def test_the_fixture_takes_the_mocks_options_from_the_project(kit):
    project = kit.elsewhere / "project-with-options"
    project.mkdir()
    (project / "fixtures.yaml").write_text(
        "marqeta:\n  accounts:\n    - token: their_account\n      current_balance: -10.50\n"
    )
    (project / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef refund_mock_args():\n"
        "    return ['--no-demo', '--start-data', 'fixtures.yaml', '--auth', 'app:s3cret']\n"
    )
    (project / "test_options.py").write_text(
        "def test_their_fixtures_and_credentials(refund_mock):\n"
        "    assert refund_mock.marqeta_auth == ('app', 's3cret')\n"
        "    with refund_mock.marqeta() as marqeta:\n"
        "        tokens = [a['token'] for a in marqeta.get('/accounts').json()['data']]\n"
        "    assert tokens == ['their_account']\n"
    )
    result = kit.run(kit.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    _check(result)
    assert "1 passed" in result.stdout


# The CI recipe, every command as written ------------------------------------------------------


def ci_job() -> dict:
    page = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    found = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert found is not None, "docs/ci.md has no yaml block"
    workflow = yaml.safe_load(found.group(1))
    (job,) = workflow["jobs"].values()
    return job


def test_the_ci_recipe_installs_starts_the_mock_checks_both_apis_and_keeps_junit(kit):
    job = ci_job()
    port = str(free_port())
    env = {**kit.env, **{name: str(value) for name, value in job["env"].items()}}
    # What the test changes: the port, a free one; the pins keep the install quick.
    for name, value in env.items():
        if value.startswith("http://127.0.0.1:8080") or name == "MOCK_PORT":
            env[name] = value.replace("8080", port)
    env["PIP_CONSTRAINT"] = str(LOCK)
    workspace = kit.elsewhere / "ci-workspace"
    kit_checkout(workspace / "refund-contract-kit")  # the step that checks the kit out
    steps = [step for step in job["steps"] if "run" in step]
    assert [step["name"] for step in steps] == [
        "Install the kit",
        "Start the mock",
        "Marqeta Credit conformance",
        "Balanced Payments v1 conformance",
    ]
    # Each step in a shell of its own, as the runner does (bash -e); the job stops at a failure.
    for number, step in enumerate(steps):
        (workspace / f"step-{number}.sh").write_text(step["run"])
    script = workspace / "job.sh"
    script.write_text(
        "set -e\n"
        + "".join(f"bash -e -o pipefail step-{number}.sh\n" for number in range(len(steps)))
    )
    log = workspace / "job.log"
    with log.open("w") as output:
        runner = subprocess.Popen(
            ["bash", str(script)],
            cwd=workspace,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        returncode = runner.wait(timeout=300)
    finally:
        stop_group(runner)  # the mock the job left running, as a runner does at the end
    output_text = log.read_text()
    assert returncode == 0, output_text[-4000:]
    assert output_text.count("CONFORMS") == 2, output_text[-4000:]
    for api in ("marqeta", "balanced"):
        report = ElementTree.parse(workspace / "reports" / f"{api}.xml").getroot()
        suites = [report] if report.tag == "testsuite" else report.findall("testsuite")
        assert sum(int(suite.get("tests", "0")) for suite in suites) > 5
        failed = [
            int(suite.get(count, "0")) for suite in suites for count in ("failures", "errors")
        ]
        assert sum(failed) == 0
    assert "Traceback" not in (workspace / "refund-mock.log").read_text()


# refund-contract, from the base install -----------------------------------------------------

_base_installed: list[InstalledKit] = []


@pytest.fixture
def base_kit(kit: InstalledKit) -> InstalledKit:
    """The same wheel installed without extras, as a CI job that only compares contracts has
    it: `refund-contract` must need nothing more."""
    if not _base_installed:
        work = kit.elsewhere.parent / "base"
        work.mkdir()
        venv = work / "venv"
        _check(subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True))
        env = _user_environment(venv)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-compile", "--quiet"]
        _check(
            subprocess.run(
                [*pip, "-c", str(LOCK), str(kit.wheel)], env=env, capture_output=True, text=True
            )
        )
        elsewhere = work / "elsewhere"
        elsewhere.mkdir()
        absent = _importable(venv, env, ["connexion", "schemathesis", "pytest", "uvicorn"])
        _base_installed.append(InstalledKit(kit.wheel, venv, env, elsewhere, absent))
    return _base_installed[0]


def test_refund_contract_diff_and_drift_run_from_the_base_install(base_kit):
    assert not any(base_kit.with_mock_only.values())  # no server stack, no test tooling
    here = base_kit.elsewhere
    contract = yaml.safe_load((ROOT / "openapi" / "marqeta-credit.yaml").read_text())
    (here / "base.yaml").write_text(yaml.safe_dump(contract))
    contract["components"]["schemas"]["RefundMethod"]["enum"] = ["ACH"]
    (here / "new.yaml").write_text(yaml.safe_dump(contract))

    compared = base_kit.run("refund-contract", "diff", "base.yaml", "new.yaml")
    assert compared.returncode == 1, compared.stderr
    assert (
        "error request-property-enum-value-removed createRefund "
        "(POST /accounts/{account_token}/refunds)"
    ) in compared.stdout
    assert base_kit.run("refund-contract", "diff", "base.yaml", "base.yaml").returncode == 0

    vendor = yaml.safe_load((ROOT / "openapi" / "marqeta-credit.yaml").read_text())
    vendor["components"]["schemas"]["RefundMethod"]["enum"].append("WIRE")
    (here / "vendor.yaml").write_text(yaml.safe_dump(vendor))
    drifted = base_kit.run(
        "refund-contract", "drift", "--api", "marqeta", "--vendor-spec", "vendor.yaml"
    )
    assert drifted.returncode == 1, drifted.stderr
    assert "[drift, vendor-only]" in drifted.stdout and '"WIRE"' in drifted.stdout
    assert "refund-contract" in base_kit.run("refund-contract", "--version").stdout
    spelled = base_kit.run("python", "-m", "conformance.changes", "rules")
    assert spelled.returncode == 0 and "request-property-enum-value-removed" in spelled.stdout


def _contract_changes_job() -> dict:
    page = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", page, re.S)]
    (job,) = (
        block["jobs"]["contract-changes"]
        for block in blocks
        if "contract-changes" in block.get("jobs", {})
    )
    return job


def test_the_contract_changes_recipe_fails_only_on_an_unannounced_break(base_kit):
    job = _contract_changes_job()
    steps = [step for step in job["steps"] if "run" in step]
    assert [step["name"] for step in steps] == [
        "Install the kit",
        "Breaking changes against the target branch",
    ]
    repository = base_kit.elsewhere / "team-repository"
    (repository / "openapi").mkdir(parents=True)
    contract_file = repository / "openapi" / "marqeta-credit.yaml"
    contract_file.write_text((ROOT / "openapi" / "marqeta-credit.yaml").read_text())
    git = ["git", "-c", "user.name=kit", "-c", "user.email=kit@example.com"]
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "v1"]):
        _check(subprocess.run([*git, *command], cwd=repository, capture_output=True))
    kit_checkout(repository / "refund-contract-kit")  # the step that checks the kit out
    summary = repository.parent / "summary.md"
    env = {**base_kit.env, **{name: str(value) for name, value in job["env"].items()}}
    # What the test changes: the target branch is the local main.
    env.update(BASE_REF="main", GITHUB_STEP_SUMMARY=str(summary))
    env["PIP_CONSTRAINT"] = str(LOCK)

    def job_run() -> subprocess.CompletedProcess[str]:
        script = "".join(
            f"bash -e -o pipefail <<'STEP' || exit $?\n{s['run']}\nSTEP\n" for s in steps
        )
        return subprocess.run(
            ["bash", "-c", script],
            cwd=repository,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    original = contract_file.read_text()
    new_operation = "  /ping:\n    get:\n      operationId: ping\n      responses:\n"
    new_operation += '        "200": { description: ok }\n'
    compatible = original.replace("paths:\n", "paths:\n" + new_operation, 1)  # info: no break
    contract_file.write_text(compatible)
    passed = job_run()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "### Contract changes" in summary.read_text()

    breaking = compatible.replace("enum: [ACH, CHECK]", "enum: [ACH]")
    contract_file.write_text(breaking)
    failed = job_run()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = breaking.splitlines().index("      enum: [ACH]") + 1
    assert (
        f"::error file=openapi/marqeta-credit.yaml,line={line},"
        "title=request-property-enum-value-removed::"
    ) in failed.stdout
    assert "version-not-bumped" in failed.stdout

    contract_file.write_text(breaking.replace('"3.0.0-mock.1"', '"3.0.0-mock.2"', 1))
    announced = job_run()
    assert announced.returncode == 0, announced.stdout + announced.stderr


def test_a_missing_extra_is_one_line_naming_the_install_and_version_works_anywhere(base_kit):
    # The base install has neither extra (a [mock] one lacks Schemathesis: the same check).
    for installed, program, extra in (
        (base_kit, "refund-conformance", "conformance"),
        (base_kit, "refund-mock", "mock"),
    ):
        for args in (["--help"], ["run", "--api", "marqeta", "--base-url", "http://127.0.0.1:9"]):
            answer = installed.run(program, *args)
            assert answer.returncode == 2, answer.stdout
            assert answer.stderr.count("\n") == 1 and "Traceback" not in answer.stderr
            assert answer.stderr.startswith(f"{program} needs the {extra} extra")
            assert f"pip install 'refund_contract_kit-0.1.0-py3-none-any.whl[{extra}]'" in (
                answer.stderr
            )
    module = base_kit.run("python", "-m", "mock_server", "--port", "9")
    assert module.returncode == 2 and module.stderr.startswith("refund-mock needs the mock extra")
    for program in ("refund-mock", "refund-conformance", "refund-contract"):
        answer = base_kit.run(program, "--version")
        assert answer.returncode == 0 and answer.stdout == f"{program} 0.1.0\n", answer.stderr


GIT_URL_IN_README = "git+https://git.example.com/team/refund-contract-kit.git@main"


def test_every_install_line_of_the_readme_installs(kit):
    """Each `pip install` the README shows, as written, from a folder holding what the README
    says to have there (the wheel `make dist` builds, a clone), in a fresh virtualenv."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    inline = re.findall(r"`(pip install [^`]+)`", readme)
    in_blocks = re.findall(r"^(pip install [^\n#]+?)\s*(?:#.*)?$", readme, re.M)
    lines = inline + in_blocks
    assert len(inline) >= 6 and in_blocks, lines
    assert f"./{kit.wheel.name}" in readme  # the name `make dist` gives the wheel
    here = kit.elsewhere.parent / "readme-install"
    here.mkdir()
    shutil.copy2(kit.wheel, here / kit.wheel.name)
    clone = kit_checkout(here / "refund-contract-kit")
    git = ["git", "-c", "user.name=kit", "-c", "user.email=kit@example.com"]
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "kit"]):
        _check(subprocess.run([*git, *command], cwd=clone, capture_output=True))
    venv = here / "venv"
    _check(subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True))
    env = {**_user_environment(venv), "PIP_CONSTRAINT": str(LOCK)}
    uninstall = [str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q"]
    for line in lines:
        # Each line installs the kit itself, rather than finding it from the line before.
        _check(subprocess.run([*uninstall, "refund-contract-kit"], env=env, capture_output=True))
        # file://localhost/...: pip 23's requirement parser refuses a URL with an empty host.
        command = line.replace(GIT_URL_IN_README, f"git+file://localhost{clone}@main")
        command = command.replace("pip install", "python -m pip install --quiet --no-compile", 1)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=here,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
    for program in ("refund-mock", "refund-conformance", "refund-contract"):
        answer = subprocess.run(
            [str(venv / "bin" / program), "--version"], env=env, capture_output=True, text=True
        )
        assert answer.stdout == f"{program} 0.1.0\n", answer.stderr


def test_make_dist_builds_the_wheel_the_readme_names(tmp_path):
    built = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert f"./{wheel.name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_qa_round_three_from_the_wheel(kit):
    """From the installed kit, against its own mock behind a gateway (so not recognised as
    the mock): a setup data file that cannot carry a run is inconclusive naming what to refill;
    a target that breaks the contract gets findings a reviewer can act on (expected, got, the
    curl line; the JUnit message that sentence), written as a baseline; with that baseline and
    the defect gone, the run conforms, names the entry found no more and gives back what it
    spent. A run against the mock itself leaves the developer's journal as it was; the old
    option spellings still work; the mock's log has no line per refused credential; a setup
    data file given for the mock itself is refused."""
    from tests.defects import proxy
    from tests.support import serve_app

    _check(kit.run(kit.bin("python"), "-m", "pip", "install", "-q", f"{kit.wheel}[all]"))
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    here = kit.elsewhere / "qa"
    here.mkdir()
    log = here / "refund-mock.log"
    start_data = here / "start.yaml"
    start_data.write_text(
        "marqeta:\n  accounts:\n    - {token: qa_account, current_balance: -10}\n"
    )
    command = [kit.bin("refund-mock"), "--port", str(port), "--log-format", "json"]
    command += ["--seed", str(start_data)]  # the old spelling of --start-data
    with process_group(command, kit, here, log):
        wait_for(f"{root}/__mock__/health", log)
        mine = httpx.get(f"{root}/v3/accounts/qa_account", auth=DEMO_AUTH)
        assert mine.status_code == 200  # the start data, loaded
        (here / "session.har").write_text(json.dumps(har_of([mine])))  # checked offline below

        def account(balance: float) -> str:
            made = httpx.post(f"{root}/__mock__/accounts", json={"current_balance": balance})
            return str(made.json()["token"])

        def setup_file(name: str, *balances: float) -> str:
            tokens = ", ".join(account(balance) for balance in balances)
            path = here / name
            path.write_text(
                f"marqeta:\n  refundable_accounts: [{tokens}]\n"
                f"  non_negative_balance_account: {account(0)}\n"
            )
            return str(path)

        def conformance(base: str, *args: str) -> subprocess.CompletedProcess[str]:
            return kit.run(
                "refund-conformance",
                "run",
                "--api",
                "marqeta",
                "--base-url",
                base + "/v3",
                "--auth",
                ":".join(DEMO_AUTH),
                "--max-examples",
                "1",
                "--seed",
                "1",
                *args,
                cwd=here,
                timeout=300,
            )

        short = setup_file("short.yaml", -0.5)
        full = setup_file("full.yaml", -1250, -1250)
        refused = conformance(root, "--setup-data", full)
        on_the_mock = conformance(root)
        journal = httpx.get(f"{root}/__mock__/requests", params={"limit": 1000}).json()
        faults = f"{root}/__mock__/faults"
        broken = httpx.put(
            f"{faults}/marqeta/listPaymentSources", json={"error_rate": 1, "error_status": 500}
        )
        assert broken.is_success, broken.text
        app, _ = proxy(root, prefix="/gateway")
        with serve_app(app) as gateway:
            emptied = conformance(gateway + "/gateway", "--setup-data", short)
            found = conformance(
                gateway + "/gateway",
                *("--setup-data", full, "--write-baseline", "known.yaml"),
                *("--junit-xml", "found.xml"),
            )
            known = yaml.safe_load((here / "known.yaml").read_text())
            for entry in known["entries"]:
                entry["reason"] = "the sandbox answers 500 there (ticket 42)"
            (here / "known.yaml").write_text(yaml.safe_dump(known))
            assert httpx.delete(faults, headers={"Content-Type": "application/json"}).is_success
            carried = conformance(  # --fixtures: the old spelling of --setup-data
                gateway + "/gateway", "--fixtures", full, "--baseline", "known.yaml"
            )
    verified = kit.run(
        "refund-conformance", "verify-traffic", "session.har", "--api", "marqeta", cwd=here
    )
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr
    assert "PASS  GET /accounts/{account_token}" in verified.stdout, verified.stdout
    assert refused.returncode == 2 and "the target is this kit's mock" in refused.stderr
    assert on_the_mock.returncode == 0, on_the_mock.stdout[-3000:]
    assert [entry["path"] for entry in journal["requests"]] == ["/v3/accounts/qa_account"]
    assert emptied.returncode == 3, emptied.stdout[-2000:] + emptied.stderr
    assert "INCONCLUSIVE: the setup data cannot carry a run" in emptied.stderr

    assert found.returncode == 1, found.stdout[-3000:]
    assert "expected: " in found.stdout and re.search(r"got: +500", found.stdout)
    assert "expected: no server error" in found.stdout, found.stdout[-3000:]
    assert re.search(r"reproduce: curl .*/paymentsources", found.stdout), found.stdout[-3000:]
    failures = list(ElementTree.parse(here / "found.xml").getroot().iter("failure"))
    assert failures and all(" " in failure.get("message", "") for failure in failures)
    assert not [f for f in failures if f.get("message", "").startswith("test_")]
    assert "ST101 Server error" in {entry["rule"] for entry in known["entries"]}

    assert carried.returncode == 0, carried.stdout[-3000:]
    assert "gave back" in carried.stdout and "%]" not in carried.stdout
    assert re.search(r"CONFORMS: \d+ passed, 0 failed, \d+ not applicable", carried.stdout)
    assert "Baseline entries found no more" in carried.stdout
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(r.get("status") == 200 for r in records)  # the access log writes ...
    assert not [r for r in records if r.get("status") == 401]  # ... no line per refused credential
    assert not [r for r in records if "No auth provided" in r["message"]]  # nor Connexion's
