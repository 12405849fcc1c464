#!/usr/bin/env python
"""Run the test fleet of SSH hosts (tests/support/fleet.py) by hand.

    fleet-cli.py check                      can this machine run a fleet? (exit 1 if not)
    fleet-cli.py up [-n 10] [-w DIR]        start a fleet, write DIR/hosts.yml, stay up until Ctrl-C
    fleet-cli.py down DIR                   tear down the fleet recorded in DIR/fleet.json
                                            (what a killed run left behind)

With the fleet up, in another shell:

    ANSIBLE_HOST_KEY_CHECKING=False ansible-playbook -i DIR/hosts.yml playbook.yml
    ls DIR/hosts/h3/skupper                 # h3's /var/lib/skupper
"""

import argparse
import os
import signal
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.support.fleet import Fleet, fleet_available, teardown_workdir  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="can this machine run a fleet?")
    up = commands.add_parser("up", help="start a fleet and keep it up until interrupted")
    up.add_argument("-n", "--count", type=int, default=10)
    up.add_argument("-w", "--workdir", help="default: a new temporary directory")
    up.add_argument("-g", "--group", default="skupper_sites")
    down = commands.add_parser("down", help="tear down the fleet recorded in WORKDIR/fleet.json")
    down.add_argument("workdir")
    args = parser.parse_args(argv)

    if args.command == "check":
        ok, reason = fleet_available()
        print("yes" if ok else "no: " + reason)
        return 0 if ok else 1

    if args.command == "down":
        errors = teardown_workdir(args.workdir)
        for error in errors:
            print("left: " + error, file=sys.stderr)
        return 1 if errors else 0

    ok, reason = fleet_available()
    if not ok:
        print("cannot run a fleet here: " + reason, file=sys.stderr)
        return 1
    workdir = args.workdir or tempfile.mkdtemp(prefix="fleet-")

    def interrupt(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupt)
    with Fleet(count=args.count, workdir=workdir) as fleet:
        inventory = fleet.inventory(os.path.join(workdir, "hosts.yml"), group=args.group)
        print("fleet %s on %s (bridge %s, gateway %s)" % (fleet.prefix, fleet.network, fleet.bridge, fleet.gateway))
        for host in fleet.hosts:
            print("  %-4s %-15s %s" % (host.name, host.ip, host.data_home))
        print("inventory: %s" % inventory)
        print("ssh:       ssh %s root@%s" % (" ".join(fleet.ssh_args()), fleet.hosts[0].ip))
        print("up; Ctrl-C to tear down (or: %s down %s)" % (sys.argv[0], workdir))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    print("torn down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
