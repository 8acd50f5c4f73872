#!/usr/bin/env bash
# Resolves requirements/runtime.in in a throwaway Python 3.10 venv and writes the full pin set
# to requirements/runtime.txt. Run it (via `make lock`) after changing runtime.in.
set -euo pipefail
python=$(scripts/find-python.sh)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "==> Resolving requirements/runtime.in with $python (a few minutes)"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check pip==24.0
"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements/runtime.in
{
  echo "# Runtime: Rasa 3.6.21, rasa-sdk and spaCy 3.4 with everything they pull in, fully pinned (Python 3.10)."
  echo "# Regenerate with: make lock (edit runtime.in for direct dependencies)"
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable
} > requirements/runtime.txt
echo "==> Wrote requirements/runtime.txt ($(grep -c '==' requirements/runtime.txt) pins)"
