# shellcheck shell=bash
# Shared set-up for scripts/quickstart and scripts/test. Source it, then call `setup`.
#
# What `setup` does (idempotent; a re-run with nothing changed takes well under a second):
#   - a venv at <checkout>/.venv (Python >= 3.11), activated for the caller;
#   - `pip install -r requirements-test.txt` only when a requirements file (or the venv's
#     Python) changed since the last install: a hash stamp lives in .venv/.requirements.sha256;
#   - <checkout>/.build/collections/ansible_collections/skupperlabs/network, a RELATIVE symlink
#     to the checkout, so Ansible and Python can find the collection by its name;
#   - exports ANSIBLE_COLLECTIONS_PATH, ANSIBLE_HOME and PYTHONPATH so nothing leaks into
#     ~/.ansible and pytest can import ansible_collections.skupperlabs.network;
#   - exports CONTAINERS_CONF (unless set): the molecule scenarios' podman settings.
# Logs of quiet steps go to .build/logs/ and are printed when a step fails.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BUILD="$ROOT/.build"
VENV="$ROOT/.venv"
LOGS="$BUILD/logs"
COLLECTIONS="$BUILD/collections"
COLLECTION_NAMESPACE=skupperlabs
COLLECTION_NAME=network
export ROOT BUILD VENV

log() { printf '%s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    exit 1
}

# Run a command quietly; on failure show the end of its log and stop.
quietly() {
    local name="$1"
    shift
    mkdir -p "$LOGS"
    local logfile="$LOGS/$name.log"
    if ! "$@" >"$logfile" 2>&1; then
        log "ERROR: '$*' failed; last lines of $logfile:"
        tail -n 60 "$logfile" >&2
        exit 1
    fi
}

# An interpreter that runs and is at least 3.11 (ansible-core 2.19 needs it).
find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        # pyenv shims exist for versions that are not selected; make sure it really runs.
        if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

requirements_hash() {
    {
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
        cat "$ROOT"/requirements*.txt
    } | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    # Remake the venv when its Python is gone or too old, or when the checkout moved (the
    # scripts in .venv/bin name their interpreter by absolute path).
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 ||
        [[ "$(head -n 3 "$VENV/bin/pip" 2>/dev/null)" != *"$VENV/bin/python"* ]]; then
        local python
        python="$(find_python)" || die "no Python >= 3.11 found (tried \$PYTHON, python3.11, python3)"
        log "setup: creating $VENV with $python"
        rm -rf "$VENV"
        quietly venv "$python" -m venv "$VENV"
    fi
    local stamp="$VENV/.requirements.sha256" want have=""
    want="$(requirements_hash)"
    [ -f "$stamp" ] && have="$(cat "$stamp")"
    if [ "$want" != "$have" ]; then
        log "setup: installing requirements-test.txt into .venv (log: .build/logs/pip-install.log)"
        rm -f "$stamp"
        quietly pip-install "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements-test.txt"
        printf '%s\n' "$want" >"$stamp"
    fi
    export VIRTUAL_ENV="$VENV"
    case ":$PATH:" in
        *":$VENV/bin:"*) ;;
        *) export PATH="$VENV/bin:$PATH" ;;
    esac
    hash -r
}

ensure_collection_link() {
    local parent="$COLLECTIONS/ansible_collections/$COLLECTION_NAMESPACE"
    local link="$parent/$COLLECTION_NAME"
    # parent is .build/collections/ansible_collections/<ns>: four levels below the checkout.
    local target="../../../.."
    mkdir -p "$parent"
    if [ "$(readlink "$link" 2>/dev/null)" != "$target" ]; then
        rm -rf "$link"
        ln -s "$target" "$link"
    fi
}

export_ansible_env() {
    mkdir -p "$BUILD/ansible-home"
    export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
    export ANSIBLE_HOME="$BUILD/ansible-home"
    export PYTHONPATH="$COLLECTIONS${PYTHONPATH:+:$PYTHONPATH}"
    # podman of the molecule scenarios (tests/integration/test_molecule.py): runc, not crun, and
    # ulimits a container may have here.
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/extensions/molecule/containers.conf}"
}

setup() {
    ensure_venv
    ensure_collection_link
    export_ansible_env
}

# ---------------------------------------------------------------------------------------------
# Stage helpers for scripts/test

# shellcheck disable=SC2034 # STAGE_NAME and STAGE_OPEN are read by scripts/test
{
    STAGE_NAME=""
    STAGE_START=0
    STAGE_OPEN=0
    STAGE_SUMMARY=()
}

stage() {
    STAGE_NAME="$1"
    STAGE_START=$SECONDS
    STAGE_OPEN=1
    printf '\n==> [%s] %s\n' "$(date +%H:%M:%S)" "$STAGE_NAME"
}

stage_done() {
    local status="${1:-ok}" took=$((SECONDS - STAGE_START))
    # shellcheck disable=SC2034
    STAGE_OPEN=0
    printf '==> %s: %s (%ss)\n' "$STAGE_NAME" "$status" "$took"
    STAGE_SUMMARY+=("$(printf '%-34s %-8s %4ss' "$STAGE_NAME" "$status" "$took")")
}

print_summary() {
    local line
    printf '\n==> summary\n'
    for line in "${STAGE_SUMMARY[@]}"; do
        printf '    %s\n' "$line"
    done
}

# "N passed, N failed, N skipped" from a pytest JUnit XML report (errors count as failed).
pytest_counts() {
    python - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET

tests = failed = skipped = 0
try:
    root = ET.parse(sys.argv[1]).getroot()
    for suite in ([root] if root.tag == 'testsuite' else root.iter('testsuite')):
        tests += int(suite.get('tests', 0))
        failed += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped += int(suite.get('skipped', 0))
except (OSError, ET.ParseError):
    pass
print('%d passed, %d failed, %d skipped' % (tests - failed - skipped, failed, skipped))
EOF
}

# A Python 3.9 interpreter that really runs (a pyenv shim may exist without one), or nothing.
find_python39() {
    local candidate
    for candidate in python3.9 "$(pyenv root 2>/dev/null)"/versions/3.9*/bin/python3.9 \
        "$HOME"/.pyenv/versions/3.9*/bin/python3.9 /root/.pyenv/versions/3.9*/bin/python3.9; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 9))' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# ansible-test must run from a directory whose real path ends in ansible_collections/<ns>/<name>,
# and it treats everything there as content. Copy the git-tracked and untracked-but-not-ignored
# files (what a commit would hold) into a fresh tree, leaving out .venv, .build, caches.
# The copy gets a `git init` of its own: ansible-test lists content with git when it finds a .git
# in the directory or ANY parent, and the checkout's own git would list nothing under the
# ignored .build/ ("All targets skipped"). Files need not be added: it lists untracked ones too.
make_sanity_copy() {
    local dest="$1"
    rm -rf "$dest"
    mkdir -p "$dest"
    git init -q "$dest"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (
            cd "$ROOT" || exit 1
            git ls-files -z --cached --others --exclude-standard |
                while IFS= read -r -d '' f; do
                    # tracked files deleted in the work tree are still listed: skip them
                    if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
                done |
                tar --null --no-recursion -T - -cf -
        ) | tar -C "$dest" -xf -
    else
        tar -C "$ROOT" -cf - --exclude=./.git --exclude=./.venv --exclude=./.build \
            --exclude=./.quickstart --exclude=./tests/output --exclude=__pycache__ \
            --exclude=.pytest_cache . | tar -C "$dest" -xf -
    fi
}

# ansible-test bootstraps pip into each sanity venv with get-pip.py, downloaded from a host that
# this machine cannot reach. It looks for it at ~/.ansible/test/cache/get_pip_<version>.py
# (a fixed path: see bootstrap() in ansible_test/_util/target/setup/requirements.py); ours runs
# pip from the pip wheel that `pip download` fetched from PyPI.
ensure_get_pip_standin() {
    local home="$1" version
    version="$(ansible_test_pip_version)"
    local cache="$home/.ansible/test/cache"
    local script="$cache/get_pip_${version//./_}.py"
    local wheel="$cache/pip-$version-py3-none-any.whl"
    mkdir -p "$cache"
    if [ ! -f "$wheel" ]; then
        quietly pip-download python -m pip download -q --no-deps --dest "$cache" "pip==$version"
        [ -f "$wheel" ] || die "pip download did not produce $wheel"
    fi
    cat >"$script.tmp" <<EOF
"""Offline stand-in for get-pip.py $version, written by scripts/lib.sh.

ansible-test runs it (through its quiet_pip.py, with GET_PIP set) to put pip into the empty
venvs of its sanity tests, with arguments such as: pip==$version --no-setuptools --no-wheel.
The real script is downloaded from a host that this machine cannot reach; this one runs pip
from the pip $version wheel beside it, fetched from PyPI with 'pip download'.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WHEEL = os.path.join(HERE, 'pip-$version-py3-none-any.whl')


def main():
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--no-setuptools', action='store_true')
    pre.add_argument('--no-wheel', action='store_true')
    _, args = pre.parse_known_args()
    if not os.path.isfile(WHEEL):
        sys.exit('get-pip stand-in: missing ' + WHEEL)
    sys.path.insert(0, WHEEL)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel
    sys.exit(pip_main(['install', '--upgrade', '--force-reinstall', '--find-links', HERE] + args))


if __name__ == '__main__':
    main()
EOF
    mv "$script.tmp" "$script"
}

# The pip version that the installed ansible-test puts into the venvs it makes
# (get_venv_packages() in ansible_test/_internal/python_requirements.py; 24.2 in 2.19).
ansible_test_pip_version() {
    python - <<'EOF'
import os
import re
import ansible_test

path = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
with open(path, encoding='utf-8') as f:
    match = re.search(r"default_packages = dict\(\s*pip='([0-9.]+)'", f.read())
print(match.group(1) if match else '24.2')
EOF
}
