"""Versioning discipline: a breaking change must come with a version that says so.

Our contracts carry the vendor's version and a counter of our own (``3.0.0-mock.4``): a
breaking change raises the counter (or the vendor's version). Other documents follow semantic
versioning: a breaking change raises the major version, except before 1.0, where anything goes.
A version that is neither form is not judged.
"""

from __future__ import annotations

import re

_MOCK = re.compile(r"^(?P<vendor>.+)-mock\.(?P<counter>\d+)$")
_SEMVER = re.compile(r"^v?(?P<major>\d+)(?:\.\d+){0,2}(?:[-+].*)?$")


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def announces_breaking(base: str, new: str) -> bool | None:
    """Whether NEW's version announces a breaking change against BASE's; None when the
    versions cannot be judged (pre-1.0, or no known form)."""
    base_mock, new_mock = _MOCK.match(base), _MOCK.match(new)
    if base_mock and new_mock:
        base_vendor, new_vendor = _numbers(base_mock["vendor"]), _numbers(new_mock["vendor"])
        if new_vendor != base_vendor:
            return new_vendor > base_vendor
        return int(new_mock["counter"]) > int(base_mock["counter"])
    base_semver, new_semver = _SEMVER.match(base), _SEMVER.match(new)
    if not (base_semver and new_semver) or int(base_semver["major"]) == 0:
        return None
    return int(new_semver["major"]) > int(base_semver["major"])
