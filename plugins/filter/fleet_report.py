# -*- coding: utf-8 -*-
# Copyright: contributors to skupperlabs.network
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the fleet report that playbooks/rollout.yml writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# The kinds of skupper_network_observed, with the report's name for each.
OBSERVED_KINDS = (("listener", "listeners"), ("multikeylistener", "multikeylisteners"),
                  ("connector", "connectors"))
FAILED = "Failed"
READY = "Ready"
MAX_MESSAGE = 300

# Facts carry no credentials, but messages come from Skupper and from servers: a PEM block or a long
# random-looking string (a grant code is 24 random alphanumerics, internal/utils/utils.go RandomId) is removed
# rather than trusted.
PEM_BLOCK = re.compile(r"-----BEGIN [^-]+-----.*?(-----END [^-]+-----|$)", re.S)
LONG_RUN = re.compile(r"[A-Za-z0-9+]{20,}=*")


def _looks_random(run):
    has_digit = any(c.isdigit() for c in run)
    has_letter = any(c.isalpha() for c in run)
    uppers = sum(1 for c in run if c.isupper())
    lowers = sum(1 for c in run if c.islower())
    return (has_digit and has_letter) or (uppers >= 3 and lowers >= 3)


def _clean(text):
    """A message on one line, without anything that looks like a credential, of bounded length."""
    if text is None:
        return ""
    text = PEM_BLOCK.sub("<PEM data removed>", "%s" % (text,))
    text = LONG_RUN.sub(lambda match: "********" if _looks_random(match.group(0)) else match.group(0), text)
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE] + "..."
    return text


def _items(value, what):
    """A list from a fact that must be a list (None or absent: empty)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)):
        raise AnsibleFilterError("%s must be a list, got %s" % (what, type(value).__name__))
    try:
        return list(value)
    except TypeError:
        raise AnsibleFilterError("%s must be a list, got %s" % (what, type(value).__name__))


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


def _link(site, name, index, entry):
    """The report's entry for one link a host declares, from its skupper_network_links_result."""
    where = "skupper_network_links_result[%d] of %s" % (index, name)
    if not isinstance(entry, Mapping):
        raise AnsibleFilterError("%s must be a mapping, got %s" % (where, type(entry).__name__))
    for field in ("to", "status"):
        if not isinstance(entry.get(field), str) or not entry.get(field):
            raise AnsibleFilterError("%s has no %s (a non-empty string is required)" % (where, field))
    return {
        "from": site,
        "to": entry["to"],
        "name": "%s" % (entry.get("name") or "",),
        "cost": entry.get("cost"),
        "status": entry["status"],
        "message": _clean(entry.get("message")),
    }


def _observed(site, name, facts):
    """(routing key, entry) for every resource the host's skupper_network_observed reports."""
    if facts is None:
        return []
    if not isinstance(facts, Mapping):
        raise AnsibleFilterError("skupper_network_observed of %s must be a mapping, got %s"
                                 % (name, type(facts).__name__))
    found = []
    for kind, field in OBSERVED_KINDS:
        for index, item in enumerate(_items(facts.get(field), "skupper_network_observed.%s of %s" % (field, name))):
            if not isinstance(item, Mapping):
                raise AnsibleFilterError("skupper_network_observed.%s[%d] of %s must be a mapping"
                                         % (field, index, name))
            keys = _items(item.get("routing_keys"),
                          "skupper_network_observed.%s[%d].routing_keys of %s" % (field, index, name))
            if not all(isinstance(key, str) for key in keys):
                raise AnsibleFilterError("skupper_network_observed.%s[%d].routing_keys of %s must be strings"
                                         % (field, index, name))
            entry = {"site": site, "kind": kind, "name": "%s" % (item.get("name") or "",),
                     "status": "%s" % (item.get("status") or "",), "message": _clean(item.get("message"))}
            for key in sorted(set(keys)):
                found.append((key, dict(entry)))
    return found


def _networks(sites, links):
    """Connected sets of the sites, links taken both ways; a link counts unless it failed to be made."""
    sites = sorted(set(sites))
    parent = dict((site, site) for site in sites)

    def root(site):
        while parent[site] != site:
            parent[site] = parent[parent[site]]
            site = parent[site]
        return site

    for link in links:
        # A failed host is in no network, so a link to it joins nothing.
        if link["status"] != FAILED and link["from"] in parent and link["to"] in parent:
            parent[root(link["from"])] = root(link["to"])
    groups = {}
    for site in sites:
        groups.setdefault(root(site), []).append(site)
    return sorted(sorted(group) for group in groups.values())


def _links_down_reason(site_links):
    described = []
    for link in site_links:
        text = "%s -> %s %s" % (link["from"], link["to"], link["status"])
        if link["message"]:
            text += " (%s)" % link["message"]
        described.append(text)
    if len(site_links) == 1:
        return "1 link, not Ready: %s" % described[0]
    return "%d links, none Ready: %s" % (len(site_links), "; ".join(described))


def fleet_report(hosts):
    """Routing keys, links and networks across the fleet from the hostvars of every site host.

    A host without the network role's facts (``skupper_network_site``), or with the error
    playbooks/rollout.yml records (``skupper_rollout_error``), did not finish the rollout: it is
    listed in ``failed_hosts``, with its reason in ``errors``, and nothing else of it is used.
    """
    routing_keys, failed, sites, errors, links, observed = {}, [], [], {}, [], []
    for host in _items(hosts, "the fleet report's input (hostvars of the site hosts)"):
        if not isinstance(host, Mapping):
            raise AnsibleFilterError("the fleet report takes hostvars (mappings), got %s" % type(host).__name__)
        site = host.get("skupper_network_site")
        name = host.get("inventory_hostname")
        if not site or host.get("skupper_rollout_error"):
            failed.append(name)
            errors[name] = _clean(host.get("skupper_rollout_error")) or "did not finish the rollout"
            continue
        sites.append(site)
        for role, facts_key in (("listeners", "skupper_network_listener_keys"),
                                ("connectors", "skupper_network_connector_keys")):
            for key in host.get(facts_key) or []:
                entry = routing_keys.setdefault(key, {"listeners": [], "connectors": []})
                if site not in entry[role]:
                    entry[role].append(site)
        for index, entry in enumerate(_items(host.get("skupper_network_links_result"),
                                             "skupper_network_links_result of %s" % name)):
            links.append(_link(site, name, index, entry))
        observed.extend(_observed(site, name, host.get("skupper_network_observed")))
    links.sort(key=lambda link: (link["from"], link["to"], link["name"]))
    networks = _networks(sites, links)
    network_of = dict((site, number) for number, group in enumerate(networks) for site in group)
    ordered = dict((key, routing_keys[key]) for key in sorted(routing_keys))
    for key, entry in ordered.items():
        entry["reachable"] = any(network_of[listener] == network_of[connector]
                                 for listener in entry["listeners"] for connector in entry["connectors"])
        entry["observed"] = sorted((item for item_key, item in observed if item_key == key),
                                   key=lambda item: (item["site"], item["kind"], item["name"]))
    links_down = {}
    for site in sorted(sites):
        site_links = [link for link in links if site in (link["from"], link["to"])]
        if site_links and not any(link["status"] == READY for link in site_links):
            links_down[site] = _links_down_reason(site_links)
    return {
        "sites": sorted(sites),
        "routing_keys": ordered,
        "listeners_without_connector": [k for k, v in ordered.items() if v["listeners"] and not v["connectors"]],
        "connectors_without_listener": [k for k, v in ordered.items() if v["connectors"] and not v["listeners"]],
        "unreachable_routing_keys": [k for k, v in ordered.items() if not v["reachable"]],
        "links": links,
        "networks": networks,
        "sites_with_links_down": links_down,
        "failed_hosts": sorted(failed),
        "errors": errors,
    }


def _table(rows):
    """Rows of strings as aligned columns, the last column left ragged."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = ["%-*s" % (width, cell) for width, cell in zip(widths, row)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return lines


def _key_problem(entry):
    problems = []
    if not entry.get("connectors"):
        problems.append("no connector anywhere")
    elif not entry.get("listeners"):
        problems.append("no listener anywhere")
    elif entry.get("reachable") is False:
        problems.append("listener and connector sites not linked")
    not_ready = [item for item in entry.get("observed") or [] if item.get("status") != READY]
    if not_ready:
        problems.append("%d observed not Ready" % len(not_ready))
    return "; ".join(problems)


def fleet_report_table(report):
    """The report as lines of tables, for the screen."""
    rows = [("ROUTING KEY", "LISTENERS", "CONNECTORS", "REACHABLE", "")]
    for key, entry in report.get("routing_keys", {}).items():
        reachable = {True: "yes", False: "no"}.get(entry.get("reachable"), "-")
        rows.append((key, ", ".join(entry.get("listeners") or []) or "-",
                     ", ".join(entry.get("connectors") or []) or "-", reachable, _key_problem(entry)))
    lines = _table(rows)
    if report.get("links"):
        lines.append("")
        lines.extend(_table([("FROM", "TO", "STATUS", "MESSAGE")] + [
            (link["from"], link["to"], link["status"], link.get("message") or "") for link in report["links"]]))
    if report.get("networks"):
        lines.append("")
        for number, group in enumerate(report["networks"], start=1):
            lines.append("network %d: %s" % (number, ", ".join(group)))
    links_down = report.get("sites_with_links_down") or {}
    if links_down:
        lines.append("sites with links down: %s" % ", ".join(sorted(links_down)))
        for site in sorted(links_down):
            lines.append("  %s: %s" % (site, links_down[site]))
    if report.get("failed_hosts"):
        lines.append("failed hosts: %s" % ", ".join(report["failed_hosts"]))
        for name in report["failed_hosts"]:
            lines.append("  %s: %s" % (name, report.get("errors", {}).get(name, "")))
    return lines


class FilterModule(object):
    def filters(self):
        return {"fleet_report": fleet_report, "fleet_report_table": fleet_report_table,
                "declared_routing_keys": declared_routing_keys}
