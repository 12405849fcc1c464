"""The collection as users get it: the tarball of scripts/build-collection, installed as Galaxy installs it.

``build_collection`` runs ``scripts/build-collection`` (``ansible-galaxy collection build`` with
galaxy.yml's ``build_ignore``; with ``import_check``, galaxy-importer on the tarball too) and
returns the tarball's path. ``install_collection`` runs ``ansible-galaxy collection install`` of a
tarball into an empty collections path. ``installed_environment`` is the environment in which
Ansible sees that installed copy and nothing else: no checkout on PYTHONPATH or
ANSIBLE_COLLECTIONS_PATH, no collections on sys.path.
"""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_SCRIPT = os.path.join(ROOT, "scripts", "build-collection")


def tool(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else shutil.which(name)


class BuildFailed(AssertionError):
    pass


def build_collection(output_dir, import_check=False, tarball=None, timeout=600):
    """Build (or, given ``tarball``, only check) the collection; returns (tarball path, the script's stderr)."""
    command = ["bash", BUILD_SCRIPT]
    if tarball:
        command += ["--tarball", str(tarball)]
    else:
        command += ["--output-path", str(output_dir)]
    if import_check:
        command.append("--import-check")
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if process.returncode != 0:
        raise BuildFailed("%s failed (exit %d):\n%s\n%s" % (
            " ".join(command), process.returncode, process.stdout[-4000:], process.stderr[-8000:]))
    return process.stdout.strip().splitlines()[-1], process.stderr


def installed_environment(collections_path, home):
    """The environment of a user whose only copy of the collection is the one under ``collections_path``."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_CONFIG"):
        env.pop(name, None)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
    })
    return env


def install_collection(tarball, collections_path, home):
    """ansible-galaxy collection install of ``tarball`` into ``collections_path``; returns the collection's folder."""
    process = subprocess.run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections_path), str(tarball)],
        cwd=str(home), env=installed_environment(collections_path, home), capture_output=True, text=True,
        timeout=300, check=False)
    if process.returncode != 0:
        raise AssertionError("ansible-galaxy collection install failed:\n%s\n%s" % (process.stdout, process.stderr))
    return os.path.join(str(collections_path), "ansible_collections", "skupperlabs", "network")
