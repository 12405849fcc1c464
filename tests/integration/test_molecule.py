"""The molecule scenarios of extensions/molecule/, each run as ``molecule test`` on podman containers with systemd.

* ``site``: the site role on a host as root (system scope units, /var/lib/skupper) and as the rootless user
  ``skupper`` (user scope units of its lingering user manager, ~/.local/share/skupper): converge, a second
  converge that changes nothing, verify (the unit is enabled and active, the data home holds the started site).
* ``network``: the network role's listeners, multi-key listener and connectors on both kinds of sites; the
  handler's reload puts them into the runtime, and the second converge reloads nothing.
* ``teardown``: prepare adds input a user writes by hand (a subfolder, a multi-document file, a key that is not
  text, a hidden file, an empty folder) and records each input file's sha256; ``skupper_site_state: absent``
  backs input/ up and verifies the copy, then stops the unit and the site (the CLI double's ``system stop``
  removes the whole namespace home, as Skupper's does) and uninstalls the system controller (the host's only
  namespace); verify finds every input file in the backup, byte for byte.

The Skupper CLI on the hosts is the TEST DOUBLE tests/bin/skupper, packed with its support modules into one
zipapp file that the role installs from the controller with its checksum (extensions/molecule/resources/).

The containers run the image localhost/skupperlabs-systemd:bookworm, built here once (debootstrap, about a
minute; then cached: tests/support/systemd_image.py). Without root, podman, runc or debootstrap, or when
podman cannot run a container here, the tests are skipped with the reason; on CI (CI set) they fail instead.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.support import systemd_image

# The extra suite: ./scripts/test --extra (.ci/run runs it after the default suite).
pytestmark = pytest.mark.extra

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = ("site", "network", "teardown")
TIMEOUT = 900


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail("the molecule scenarios must run on CI: %s" % reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def systemd_image_name():
    """The image, built once per session (a file lock makes pytest-xdist workers wait for one build)."""
    usable, reason = systemd_image.podman_usable()
    if not usable:
        unavailable(reason)
    try:
        image, seconds = systemd_image.ensure_image()
    except systemd_image.ImageError as error:
        pytest.fail("cannot build the systemd image: %s" % error)
    if seconds:
        sys.stderr.write("\nbuilt %s in %.0f s\n" % (image, seconds))
    usable, reason = systemd_image.can_run_containers(image)
    if not usable:
        unavailable(reason)
    return image


def molecule_env(workdir):
    """The project's environment (as scripts/lib.sh sets it), with molecule's folders in the test's own."""
    env = systemd_image.environment()
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(ROOT, ".build", "collections")
    env.setdefault("ANSIBLE_HOME", os.path.join(ROOT, ".build", "ansible-home"))
    env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(workdir / "ephemeral")
    env["ANSIBLE_FORCE_COLOR"] = "false"
    env["PY_COLORS"] = "0"
    env["NO_COLOR"] = "1"
    # The podman driver's create and destroy playbooks keep async job files in $HOME/.ansible_async.
    env["HOME"] = str(workdir / "home")
    os.makedirs(env["HOME"], exist_ok=True)
    return env


def molecule():
    path = os.path.join(os.path.dirname(sys.executable), "molecule")
    if os.access(path, os.X_OK):
        return path
    found = shutil.which("molecule")
    if not found:
        pytest.fail("molecule is not installed: pip install -r requirements-test.txt")
    return found


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, systemd_image_name, tmp_path):
    # --parallel: instance names get a unique suffix, so two runs on one machine never share a container.
    command = [molecule(), "test", "--parallel", "--scenario-name", scenario]
    log_path = tmp_path / "molecule.log"
    started = time.monotonic()
    with open(str(log_path), "w") as log:
        process = subprocess.run(command, cwd=ROOT, env=molecule_env(tmp_path), stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
    seconds = time.monotonic() - started
    with open(str(log_path)) as log:
        output = log.read()
    sys.stdout.write("molecule test -s %s: exit %d in %.0f s\n" % (scenario, process.returncode, seconds))
    assert process.returncode == 0, "molecule test -s %s failed (exit %d; whole log: %s):\n%s" % (
        scenario, process.returncode, log_path, output[-12000:])
    for step in ("converge", "idempotence", "verify"):
        assert re.search(r"\b%s\W+%s: Executed: Successful" % (scenario, step), output), \
            "molecule test -s %s did not run %s (log: %s)" % (scenario, step, log_path)
