"""The execution environment for AWX: the collection builds, and ansible-builder makes a build context offline."""

import os
import shutil
import subprocess
import sys
import tarfile

from tests.support.built_collection import build_collection

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tool(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else shutil.which(name)


def run(*command, cwd):
    process = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert process.returncode == 0, process.stdout + process.stderr
    return process


def test_ansible_builder_creates_the_build_context(tmp_path):
    collections = tmp_path / "collections"
    collections.mkdir()
    shutil.copy(os.path.join(ROOT, "execution-environment.yml"), str(tmp_path))
    built, _unused = build_collection(collections)
    os.rename(built, str(collections / "skupperlabs-network.tar.gz"))
    with tarfile.open(str(collections / "skupperlabs-network.tar.gz")) as archive:
        names = archive.getnames()
    for needed in ("meta/execution-environment.yml", "requirements.txt", "meta/runtime.yml",
                   "plugins/modules/listener.py", "roles/site/meta/argument_specs.yml", "playbooks/rollout.yml"):
        assert needed in names, needed
    assert not [name for name in names if name.startswith((".build", ".venv", ".quickstart"))]

    # The file named: ansible-builder writes a Dockerfile when it finds no podman on the machine.
    run(tool("ansible-builder"), "create", "-f", "execution-environment.yml", "-c", "context",
        "--output-filename", "Containerfile", cwd=str(tmp_path))
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert "ansible-galaxy collection install" in containerfile
    assert os.path.exists(str(tmp_path / "context" / "_build" / "collections" / "skupperlabs-network.tar.gz"))
    requirements = (tmp_path / "context" / "_build" / "requirements.yml").read_text()
    assert "/build/collections/skupperlabs-network.tar.gz" in requirements
