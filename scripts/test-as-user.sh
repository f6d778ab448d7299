#!/usr/bin/env bash
# Runs the security tests (sandbox and file tools) again as an unprivileged user. Needs root: it creates the
# user (PODIUM_TEST_USER, default `podiumtest`) when missing, copies the sources where that user can read
# them, and makes a virtual environment there from a system Python the user can execute.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "test-as-user: run it as root (it switches to an unprivileged user itself)" >&2
  exit 2
fi
user=${PODIUM_TEST_USER:-podiumtest}
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
python=""
for candidate in /usr/bin/python3 /usr/local/bin/python3; do
  if [ -x "$candidate" ] && runuser -u "$user" -- "$candidate" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [ -z "$python" ]; then
  echo "test-as-user: no Python 3.10+ that $user can run (install it: apt-get install python3)" >&2
  exit 2
fi
dest=$(mktemp -d /tmp/podium-as-user.XXXXXX)
trap 'rm -rf "$dest"' EXIT
cp -r src tests docs pyproject.toml README.md LICENSE "$dest"/
.venv/bin/uv venv --quiet --python "$python" "$dest/.venv"
.venv/bin/uv pip install --quiet --python "$dest/.venv/bin/python" -e "$dest[dev,all]"
chmod -R a+rX "$dest"
chmod a+rx "$dest"
cd "$dest"
runuser -u "$user" -- env HOME="$(getent passwd "$user" | cut -d: -f6)" PYTHONDONTWRITEBYTECODE=1 \
  PODIUM_REQUIRE_SYSTEM_TOOLS="${PODIUM_REQUIRE_SYSTEM_TOOLS:-}" HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-dev}" \
  "$dest/.venv/bin/pytest" -q -p no:cacheprovider -m "not slow" tests/sandbox tests/tools tests/agent tests/test_secrets.py \
  tests/store/test_store_errors.py tests/store/test_store_secrets.py tests/cli/test_signals.py "$@"
