"""[tool.mypy] holds every workspace package to exactly what `mypy --strict` checks.

The strict flags are spelled out per module (mypy reads `strict = true` in an override as a
global setting, which would hold the tests to it too), so a mypy release that adds a flag to
`--strict`, or a new package, must show up here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mypy.main import process_options

ROOT = Path(__file__).resolve().parents[3]


def options(tmp_path: Path, *args: str) -> Any:
    empty = tmp_path / "mypy.ini"
    empty.write_text("[mypy]\n")
    _, parsed = process_options([*args, "--config-file", str(empty), "-c", "pass"])
    return parsed


def config() -> dict[str, Any]:
    mypy: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return mypy


def strict_override() -> dict[str, Any]:
    (override,) = [o for o in config()["overrides"] if "burnrate_common.*" in o["module"]]
    return override


def test_the_packages_get_every_flag_of_strict_and_the_tests_none(tmp_path: Path) -> None:
    strict, plain = options(tmp_path, "--strict"), options(tmp_path)
    names = [n for n in dir(strict) if not n.startswith("_") and not callable(getattr(strict, n))]
    flags = {n: getattr(strict, n) for n in names if getattr(strict, n) != getattr(plain, n)}
    assert flags, "--strict changed nothing: the comparison is broken"

    override = strict_override()
    global_only = {"warn_redundant_casts"}
    assert {k: v for k, v in override.items() if k != "module"} == {
        k: v for k, v in flags.items() if k not in global_only
    }
    assert all(config().get(k) == flags[k] for k in global_only)
    assert all("strict" not in o for o in config()["overrides"])
    assert "strict" not in config()


def test_every_workspace_package_is_strict() -> None:
    packages = {
        path.parent.name
        for path in ROOT.glob("*/*/src/*/__init__.py")
        if path.parts[-5] in {"libs", "services", "tools"}
    }
    assert packages
    assert {f"{p}.*" for p in packages} <= set(strict_override()["module"])
