"""The shell examples of docs/mock.md's walk-throughs and recipes, run in order against a mock
on a free port as a reader would paste them: each curl gets the status its comment names
(`# 409 ...`), a connection error where its comment quotes one (`# curl: (56) ...`), else a 2xx."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from mock_server.app import MockConfig
from tests.support import ROOT, serve

PAGE = ROOT / "docs" / "mock.md"
SECTIONS = ("## Point your app at the mock", "## Recipes for frontend developers")
RUN_AS_DOCUMENTED = """set -u
curl() {
  local code exit=0
  code=$(command curl -o /dev/null -w '%{http_code}' "$@") || exit=$?
  echo "${code:-000}:$exit" >> "$STATUSES"
}
"""


def shell_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for heading in SECTIONS:
        section = text[text.index(heading) :]
        section = section[: section.find("\n## ", 1) if "\n## " in section[1:] else None]
        blocks += re.findall(r"```sh\n(.*?)```", section, re.S)
    return blocks


def expected_statuses(script: str) -> list[str]:
    """For each curl command (its continued lines joined): a status, 'connection' or '2xx'."""
    expected = []
    for command in script.replace("\\\n", " ").splitlines():
        if not command.lstrip().startswith("curl "):
            continue
        comment = command.partition("#")[2].strip()
        if re.match(r"\d{3}\b", comment):
            expected.append(comment[:3])
        elif comment.startswith("curl: ("):
            expected.append("connection")
        else:
            expected.append("2xx")
    return expected


def test_the_walkthroughs_and_recipes_of_docs_mock_md_answer_as_their_comments_say(tmp_path):
    assert shutil.which("curl"), "curl is needed to run the docs' examples"

    async def no_wait(_seconds: float) -> None:
        return None

    script = "\n".join(shell_blocks(PAGE))
    assert "creditbalancerefunds" in script and "fault=truncated" in script
    statuses = tmp_path / "statuses"
    with serve(MockConfig(sleep=no_wait)) as mock:
        ran = subprocess.run(
            ["bash", "-c", RUN_AS_DOCUMENTED + script.replace("http://127.0.0.1:8080", mock.root)],
            env={**os.environ, "STATUSES": str(statuses)},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert ran.returncode == 0, ran.stderr
    got = statuses.read_text().split()
    wanted = expected_statuses(script)
    assert len(got) == len(wanted), (got, wanted)
    for number, (seen, expected) in enumerate(zip(got, wanted, strict=True)):
        status, exit_code = seen.split(":")
        if expected == "connection":
            assert exit_code != "0", (number, seen)  # curl saw the connection break
            continue
        assert exit_code == "0", (number, seen)
        if expected == "2xx":
            assert status.startswith("2"), (number, seen)
        else:
            assert status == expected, (number, seen, expected)
