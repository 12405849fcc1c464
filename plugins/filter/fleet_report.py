# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fleet report that playbooks/rollout.yml writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def declared_routing_keys(items):
    """Routing keys of resources declared present: listeners and connectors, and multi-key strategies."""
    keys = []
    for item in items or []:
        if item.get("state") == "absent":
            continue
        found = [item["routing_key"]] if item.get("routing_key") else []
        for strategy in (item.get("strategy") or {}).values():
            found.extend((strategy or {}).get("routing_keys") or [])
        keys.extend(key for key in found if key not in keys)
    return keys


def fleet_report(hosts):
    """Routing keys across the fleet from the hostvars of every site host.

    A host without the network role's facts (``skupper_network_site``), or with the error
    playbooks/rollout.yml records (``skupper_rollout_error``), did not finish the rollout: it is
    listed in ``failed_hosts``, with its reason in ``errors``.
    """
    routing_keys, failed, sites, errors = {}, [], [], {}
    for host in hosts:
        site = host.get("skupper_network_site")
        if not site or host.get("skupper_rollout_error"):
            name = host.get("inventory_hostname")
            failed.append(name)
            errors[name] = host.get("skupper_rollout_error") or "did not finish the rollout"
            continue
        sites.append(site)
        for role, facts_key in (("listeners", "skupper_network_listener_keys"),
                                ("connectors", "skupper_network_connector_keys")):
            for key in host.get(facts_key) or []:
                entry = routing_keys.setdefault(key, {"listeners": [], "connectors": []})
                if site not in entry[role]:
                    entry[role].append(site)
    ordered = dict((key, routing_keys[key]) for key in sorted(routing_keys))
    return {
        "sites": sorted(sites),
        "routing_keys": ordered,
        "listeners_without_connector": [k for k, v in ordered.items() if v["listeners"] and not v["connectors"]],
        "connectors_without_listener": [k for k, v in ordered.items() if v["connectors"] and not v["listeners"]],
        "failed_hosts": sorted(failed),
        "errors": errors,
    }


def fleet_report_table(report):
    """The report as lines of a table, for the screen."""
    rows = [("ROUTING KEY", "LISTENERS", "CONNECTORS", "")]
    for key, entry in report.get("routing_keys", {}).items():
        problem = ""
        if not entry["connectors"]:
            problem = "no connector anywhere"
        elif not entry["listeners"]:
            problem = "no listener anywhere"
        rows.append((key, ", ".join(entry["listeners"]) or "-", ", ".join(entry["connectors"]) or "-", problem))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["%-*s  %-*s  %-*s  %s" % (widths[0], row[0], widths[1], row[1], widths[2], row[2], row[3])
             for row in rows]
    lines = [line.rstrip() for line in lines]
    if report.get("failed_hosts"):
        lines.append("failed hosts: %s" % ", ".join(report["failed_hosts"]))
        for name in report["failed_hosts"]:
            lines.append("  %s: %s" % (name, report.get("errors", {}).get(name, "")))
    return lines


class FilterModule(object):
    def filters(self):
        return {"fleet_report": fleet_report, "fleet_report_table": fleet_report_table,
                "declared_routing_keys": declared_routing_keys}
