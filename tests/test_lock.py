"""requirements.lock against pyproject.toml: the container installs the lock, so it must
pin every runtime dependency at a version pyproject admits, and be closed: whatever a
pinned package itself requires is pinned too (read from the installed packages' metadata)."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parent.parent


def lock() -> dict[NormalizedName, Version]:
    pins: dict[NormalizedName, Version] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() == name and version.strip() == version, f"not a plain pin: {line!r}"
        key = canonicalize_name(name)
        assert key not in pins, f"pinned twice: {name}"
        pins[key] = Version(version)
    return pins


def runtime_dependencies() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def applies(marker: Marker | None, extras: set[str]) -> bool:
    """Whether a requirement applies on this interpreter with these extras of its parent asked for."""
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in extras | {""})


def requirements_of(name: str, extras: set[str]) -> list[Requirement]:
    """What an installed package requires here, with `extras` asked for."""
    try:
        declared = distribution(name).requires or []
    except PackageNotFoundError:
        raise AssertionError(f"{name} is pinned but not installed here (pip install -e .)") from None
    return [req for req in map(Requirement, declared) if applies(req.marker, extras)]


def test_every_runtime_dependency_is_pinned_at_a_version_pyproject_admits() -> None:
    pins = lock()
    for req in runtime_dependencies():
        if not applies(req.marker, set()):
            continue
        pinned = pins.get(canonicalize_name(req.name))
        assert pinned is not None, f"{req} is a runtime dependency but requirements.lock does not pin it"
        assert req.specifier.contains(pinned, prereleases=True), f"the lock pins {req.name}=={pinned}, outside {req}"


def test_the_lock_is_closed_and_holds_nothing_else() -> None:
    pins = lock()
    needed: dict[NormalizedName, str] = {}  # package -> who asked for it
    queue = [(req, "pyproject.toml") for req in runtime_dependencies() if applies(req.marker, set())]
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    while queue:
        req, by = queue.pop()
        key = canonicalize_name(req.name)
        needed.setdefault(key, by)
        if (key, frozenset(req.extras)) in seen:
            continue
        seen.add((key, frozenset(req.extras)))
        assert key in pins, f"{req.name} is required by {by} but requirements.lock does not pin it"
        installed = Version(distribution(req.name).version)
        for sub in requirements_of(req.name, set(req.extras)):
            if installed == pins[key]:  # the metadata read is the pinned version's: its ranges hold too
                sub_pin = pins.get(canonicalize_name(sub.name))
                assert sub_pin is None or sub.specifier.contains(sub_pin, prereleases=True), (
                    f"{req.name}=={installed} requires {sub}, the lock pins {sub.name}=={sub_pin}"
                )
            queue.append((sub, req.name))
    # with nothing unreached, every pinned package's own requirements were checked above
    strays = sorted(set(pins) - set(needed))
    assert not strays, f"requirements.lock pins packages nothing requires: {strays}"
