#!/usr/bin/env python
"""The podman image with systemd that the molecule scenarios run: built here, from Debian packages.

No image registry can be reached from the test machines, so the image is made locally::

    debootstrap --variant=minbase --include=systemd,systemd-sysv,python3,... bookworm ROOTFS MIRROR
    tar -C ROOTFS -c . | podman import --change 'CMD=["/sbin/init"]' - localhost/skupperlabs-systemd:bookworm

and cached twice: the image itself (nothing is done while an image with the same recipe label
exists), and the debootstrap result as a tarball under ``.build/systemd-image/`` (so a new
import, after ``podman rmi`` or a change of the customisation below, takes seconds, not the
minute debootstrap needs). On top of debootstrap's tree the image gets:

* a user ``skupper`` (uid and gid 1000, home ``/home/skupper``) with lingering enabled
  (``/var/lib/systemd/linger/skupper``): systemd-logind starts its user manager at boot, so
  ``systemctl --user`` works for it with ``XDG_RUNTIME_DIR=/run/user/1000`` (the rootless site).
  libpam-systemd is among the packages for that: without pam_systemd the user manager gets no
  XDG_RUNTIME_DIR and ``user@1000.service`` fails;
* an empty ``/etc/machine-id`` (systemd makes one at boot) and no apt caches;
* ``STOPSIGNAL SIGRTMIN+3``, the signal on which systemd halts.

Command line (the molecule scenarios and tests/integration/test_molecule.py use the same code)::

    python tests/support/systemd_image.py            # build unless cached; print the image name
    python tests/support/systemd_image.py --rebuild  # import again from the cached tarball
    python tests/support/systemd_image.py --fresh    # debootstrap again too
    python tests/support/systemd_image.py --check    # can podman run containers here? (exit 0/1)

Needs root (debootstrap, and rootful podman), ``podman``, ``runc`` and ``debootstrap`` (the
Debian packages of those names), and a containers.conf with ``runtime = "runc"``: crun fails
on this kind of machine. ``CONTAINERS_CONF`` names it (scripts/lib.sh exports it); when it is
not set, the one beside the molecule scenarios (``extensions/molecule/containers.conf``) is used.
Concurrent builds (pytest-xdist workers, two test runs) wait for each other on a file lock.
"""

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = "localhost/skupperlabs-systemd:bookworm"
SUITE = "bookworm"
MIRROR = os.environ.get("SKUPPERLABS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("systemd", "systemd-sysv", "libpam-systemd", "python3", "python3-yaml", "dbus", "sudo", "iproute2")
USER, UID, HOME = "skupper", 1000, "/home/skupper"
CACHE = os.path.join(ROOT, ".build", "systemd-image")
CONTAINERS_CONF = os.path.join(ROOT, "extensions", "molecule", "containers.conf")
RECIPE_LABEL = "org.skupperlabs.recipe"
# Bump when customise() changes: the image is imported again (the debootstrap tarball is kept).
CUSTOMISATION = "3"


class ImageError(RuntimeError):
    """The image could not be built (the message says which step and why)."""


def environment():
    """The environment for podman: the project's containers.conf unless CONTAINERS_CONF names one."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)
    return env


def run(command, check=True, timeout=600, **kwargs):
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             env=environment(), timeout=timeout, check=False, **kwargs)
    if check and process.returncode != 0:
        raise ImageError("%s failed (exit %d):\n%s" % (" ".join(command), process.returncode, process.stdout[-4000:]))
    return process


def bootstrap_key():
    """What the debootstrap tarball depends on."""
    return hashlib.sha256(" ".join((SUITE, MIRROR, "minbase") + PACKAGES).encode()).hexdigest()[:12]


def recipe():
    """The label that says which recipe made an image: a changed recipe makes a new image."""
    return "%s-%s" % (bootstrap_key(), CUSTOMISATION)


def tarball_path():
    return os.path.join(CACHE, "rootfs-%s-%s.tar" % (SUITE, bootstrap_key()))


def image_recipe(image=IMAGE):
    """The recipe label of the image, or None when there is no such image."""
    process = run(["podman", "image", "inspect", "--format", "{{ index .Labels \"%s\" }}" % RECIPE_LABEL, image],
                  check=False, timeout=60)
    if process.returncode != 0:
        return None
    return process.stdout.strip()


def missing_tools(build=True):
    """The executables that running containers (and building the image) need and are not installed."""
    tools = [("podman", "podman"), ("runc", "runc")]
    if build:
        tools += [("debootstrap", "debootstrap"), ("tar", "tar")]
    missing = []
    for tool, package in tools:
        if not shutil.which(tool) and not os.access(os.path.join("/usr/sbin", tool), os.X_OK):
            missing.append("%s (apt-get install %s)" % (tool, package))
    return missing


def debootstrap(dest):
    """Debian's minimal base with systemd and Python into ``dest`` (about 50 s)."""
    command = [shutil.which("debootstrap") or "/usr/sbin/debootstrap", "--variant=minbase",
               "--include=" + ",".join(PACKAGES), SUITE, dest, MIRROR]
    run(command, timeout=1200)


def make_tarball():
    """The cached debootstrap result (made when missing)."""
    target = tarball_path()
    if os.path.isfile(target):
        return target
    os.makedirs(CACHE, exist_ok=True)
    for name in os.listdir(CACHE):  # tarballs of an older package list
        if name.startswith("rootfs-%s-" % SUITE) and name.endswith(".tar"):
            os.unlink(os.path.join(CACHE, name))
    work = tempfile.mkdtemp(prefix="rootfs-", dir=CACHE)
    try:
        rootfs = os.path.join(work, "rootfs")
        debootstrap(rootfs)
        for folder in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for name in os.listdir(os.path.join(rootfs, folder)):
                path = os.path.join(rootfs, folder, name)
                if os.path.isfile(path) and name != "lock":
                    os.unlink(path)
        run(["tar", "--numeric-owner", "-C", rootfs, "-cf", target + ".part", "."])
        os.rename(target + ".part", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def append(path, line):
    with open(path, "a") as handle:
        handle.write(line + "\n")


def customise(rootfs):
    """The rootless user with lingering, and a machine-id that systemd makes at boot."""
    etc = os.path.join(rootfs, "etc")
    with open(os.path.join(etc, "passwd")) as handle:
        has_user = any(line.startswith(USER + ":") for line in handle)
    if not has_user:
        append(os.path.join(etc, "passwd"), "%s:x:%d:%d:Skupper rootless site:%s:/bin/bash" % (USER, UID, UID, HOME))
        append(os.path.join(etc, "group"), "%s:x:%d:" % (USER, UID))
        append(os.path.join(etc, "shadow"), "%s:*:19000:0:99999:7:::" % USER)
        if os.path.exists(os.path.join(etc, "gshadow")):
            append(os.path.join(etc, "gshadow"), "%s:!::" % USER)
    home = os.path.join(rootfs, HOME.lstrip("/"))
    os.makedirs(home, exist_ok=True)
    os.chown(home, UID, UID)
    os.chmod(home, 0o755)
    linger = os.path.join(rootfs, "var", "lib", "systemd", "linger")
    os.makedirs(linger, exist_ok=True)
    open(os.path.join(linger, USER), "w").close()
    with open(os.path.join(etc, "machine-id"), "w"):
        pass


def image_id(image=IMAGE):
    process = run(["podman", "image", "inspect", "--format", "{{ .Id }}", image], check=False, timeout=60)
    return process.stdout.strip() if process.returncode == 0 else None


def import_image(tarball, image=IMAGE):
    """Unpack the tarball, customise it, and ``podman import`` it as ``image`` (the image it replaces goes)."""
    old = image_id(image)
    work = tempfile.mkdtemp(prefix="import-", dir=CACHE)
    try:
        rootfs = os.path.join(work, "rootfs")
        os.makedirs(rootfs)
        run(["tar", "--numeric-owner", "-C", rootfs, "-xf", tarball])
        customise(rootfs)
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        try:
            # STOPSIGNAL: systemd halts on SIGRTMIN+3 (podman stop takes 10 s and a SIGKILL otherwise).
            run(["podman", "import", "--change", 'CMD=["/sbin/init"]', "--change", "STOPSIGNAL=SIGRTMIN+3",
                 "--change", "LABEL=%s=%s" % (RECIPE_LABEL, recipe()), "-", image], stdin=tar.stdout)
        finally:
            tar.stdout.close()
            tar.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if old and old != image_id(image):
        run(["podman", "rmi", old], check=False, timeout=120)  # fails, harmlessly, while a container uses it


class Lock:
    """An exclusive lock on a file under .build/systemd-image/ (pytest-xdist workers build once)."""

    def __init__(self, name="build.lock"):
        os.makedirs(CACHE, exist_ok=True)
        self.path = os.path.join(CACHE, name)
        self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def ensure_image(rebuild=False, fresh=False, log=None):
    """Build the image unless one of the same recipe exists; returns (image name, seconds spent).

    ``rebuild`` imports again from the cached tarball; ``fresh`` runs debootstrap again too.
    """
    started = time.monotonic()
    with Lock():
        if fresh and os.path.exists(tarball_path()):
            os.unlink(tarball_path())
        if not rebuild and not fresh and image_recipe() == recipe():
            return IMAGE, 0.0
        missing = missing_tools()
        if missing:
            raise ImageError("cannot build %s: missing %s" % (IMAGE, ", ".join(missing)))
        if os.geteuid() != 0:
            raise ImageError("building %s needs root (debootstrap)" % IMAGE)
        if log:
            log("building %s (debootstrap tarball: %s)" % (IMAGE, tarball_path()))
        import_image(make_tarball())
    return IMAGE, time.monotonic() - started


def podman_usable():
    """(True, "") when podman runs here as root with runc, and the image exists or can be built; else
    (False, why not)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False, "the molecule scenarios need root (rootful podman, debootstrap)"
    missing = missing_tools(build=False)
    if missing:
        return False, "missing " + ", ".join(missing)
    process = run(["podman", "info", "--format", "{{ .Host.OCIRuntime.Name }}"], check=False, timeout=120)
    if process.returncode != 0:
        return False, "podman info failed: %s" % process.stdout.strip()[-500:]
    missing = missing_tools()
    if missing and image_recipe() != recipe():
        return False, "no %s, and it cannot be built here: missing %s" % (IMAGE, ", ".join(missing))
    return True, ""


def can_run_containers(image=IMAGE):
    """(True, "") when a container of ``image`` starts and runs a command, else (False, why not)."""
    process = run(["podman", "run", "--rm", "--network", "none", image, "/bin/true"], check=False, timeout=120)
    if process.returncode != 0:
        return False, "podman cannot run a container here: %s" % process.stdout.strip()[-800:]
    return True, ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--rebuild", action="store_true", help="import the image again from the cached tarball")
    parser.add_argument("--fresh", action="store_true", help="run debootstrap again (implies --rebuild)")
    parser.add_argument("--check", action="store_true", help="only say whether podman can run containers here")
    args = parser.parse_args(argv)
    if args.check:
        usable, reason = podman_usable()
        if usable and image_recipe() is None:
            usable, reason = False, "podman works, but there is no %s yet: run this without --check" % IMAGE
        elif usable:
            usable, reason = can_run_containers()
        print("podman can run containers here" if usable else reason)
        return 0 if usable else 1
    try:
        image, seconds = ensure_image(rebuild=args.rebuild or args.fresh, fresh=args.fresh,
                                      log=lambda message: print(message, file=sys.stderr))
    except ImageError as error:
        print("ERROR: %s" % error, file=sys.stderr)
        return 1
    if seconds:
        print("built in %.0f s" % seconds, file=sys.stderr)
    print(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
