"""Versioning discipline: a breaking change must come with a version that says so.

Our contracts carry the vendor's version and a counter of our own (``3.0.0-mock.4``): a
breaking change raises the counter (or the vendor's version). Other documents follow semantic
versioning: a breaking change raises the major version, except before 1.0, where anything goes.
A version that is neither form is not judged.
"""

from __future__ import annotations

import re
from enum import Enum

_MOCK = re.compile(r"^(?P<vendor>.+)-mock\.(?P<counter>\d+)$")
_SEMVER = re.compile(r"^v?(?P<major>\d+)\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?$")


class Verdict(Enum):
    ANNOUNCED = "announced"  # the version says a breaking change is coming
    NOT_ANNOUNCED = "not announced"
    EXEMPT = "exempt"  # before 1.0: anything goes
    UNKNOWN = "unknown"  # no form we can judge (`latest`, a date)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def verdict(base: str, new: str) -> Verdict:
    """Whether NEW's version announces a breaking change against BASE's."""
    base_mock, new_mock = _MOCK.match(base), _MOCK.match(new)
    if base_mock and new_mock:
        base_vendor, new_vendor = _numbers(base_mock["vendor"]), _numbers(new_mock["vendor"])
        if new_vendor != base_vendor:
            raised = new_vendor > base_vendor
        else:
            raised = int(new_mock["counter"]) > int(base_mock["counter"])
        return Verdict.ANNOUNCED if raised else Verdict.NOT_ANNOUNCED
    base_semver, new_semver = _SEMVER.match(base), _SEMVER.match(new)
    if not (base_semver and new_semver):
        return Verdict.UNKNOWN
    if int(base_semver["major"]) == 0:
        return Verdict.EXEMPT
    raised = int(new_semver["major"]) > int(base_semver["major"])
    return Verdict.ANNOUNCED if raised else Verdict.NOT_ANNOUNCED
