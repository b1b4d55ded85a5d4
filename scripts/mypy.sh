#!/usr/bin/env bash
# mypy on the whole workspace (the `mypy` hook of .pre-commit-config.yaml, so `make lint`):
#
# 1. every package (libs/*/src, services/*/src, tools/*/src) in one run, strict: the
#    `burnrate_*` modules are held to `--strict` by [tool.mypy] in pyproject.toml;
# 2. every tests folder in a run of its own, with mypy's default rules: test files share
#    names across folders (test_domain.py, conftest.py) and have no __init__.py, so one run
#    would see duplicates. Each run makes its folder a package of that name (the folder's
#    parent as the package base), so `from .test_report import ...` between test files
#    resolves as it does under pytest.
#
# Every run happens even when one fails, so one `make lint` lists every error.
set -uo pipefail
cd "$(dirname "$0")/.."

mypy=.venv/bin/mypy
failed=()

# shellcheck disable=SC2206 # the globs are meant to expand
packages=(libs/*/src services/*/src tools/*/src)
$mypy "${packages[@]}" || failed+=("the packages (strict)")

for tests in libs/*/tests services/*/tests tools/*/tests tests/*/; do
  [ -d "$tests" ] || continue
  tests=${tests%/}
  MYPYPATH=$(dirname "$tests") $mypy --explicit-package-bases "$tests" || failed+=("$tests")
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'mypy failed on: %s\n' "${failed[@]}" >&2
  exit 1
fi
