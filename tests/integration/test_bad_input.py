"""Bad input through real ansible-playbook runs, on both back ends: a clear error naming the option (and, in a
list, the item's index), and nothing written (the site's snapshot before and after is the same).

The generated part hands each resource module one list task of more than 500 items, each with exactly one
bad option (the engine reports every bad item of a list, so one task checks them all); the single form
and the options Ansible itself types (data_home, wait_timeout, strategy) are tasks of their own, all in one
playbook process per back end.
"""

import os

import pytest

MODULES = "skupperlabs.network."
STRATEGY = {"priority": {"routing_keys": ["rk"]}}


def task(module, site, **options):
    return {MODULES + module: dict(site.args, **options)}


def but(base, **changes):
    """``base`` with ``changes``: a valid seed with one option made bad."""
    result = dict(base)
    result.update(changes)
    return result


# -- generated bad values, per option and back end ------------------------------------------------------------

def bad_names(site):
    values = []
    for i in range(12):
        values += ["Name%d" % i, "name_%d" % i, "-name%d" % i, "name%d-" % i, "name%d\n" % i, "na me%d" % i,
                   "name/%d" % i, "../n%d" % i]
    if site.platform == "kubernetes":
        values += ["x%d" % i + "x" * 253 for i in range(4)] + ["a..b%d" % i for i in range(4)]
    else:
        # ValidateName (site_state_validator.go): no dots on a system site.
        values += ["db.primary%d" % i for i in range(8)]
    return values


def bad_routing_keys():
    values = []
    for i in range(12):
        values += ["Rk%d" % i, "rk%d." % i, ".rk%d" % i, "rk_%d" % i, "rk %d" % i, "rk%d\n" % i, "rk..%d" % i,
                   "-rk%d" % i]
    return values


def bad_hosts(rule):
    """``rule``: "service" (a Kubernetes listener's host names a Service) or "address" (a system site's
    listener, and a connector's host on either back end)."""
    values = []
    for i in range(10):
        values += ["Host%d" % i, "host%d\n" % i, "ho st%d" % i, "host_%d" % i, "host..%d" % i]
        if rule == "service":
            # A Service name: an RFC 1035 label.
            values += ["%dhost" % i, "host.%d" % i, "h%d" % i + "x" * 63]
        else:
            values += ["h%d" % i + "x" * 63, "%d." % i + "a" * 64, "h%d." % i + ".".join(["a" * 60] * 5)]
    return values


def bad_ports():
    return [0, 65536, -1, 70000, 100000, -8080]


def bad_tls_credentials(site):
    values = []
    for i in range(6):
        values += ["../c%d" % i, "c/%d" % i, "/etc/ssl%d" % i, "Bad Name%d" % i, "c%d\n" % i]
        values += ["My_Certs%d" % i] if site.platform == "kubernetes" else [".hidden%d" % i]
    return values


def bad_labels():
    values = []
    for i in range(8):
        values += [{"k %d" % i: "v"}, {"k%d" % i: "-v"}, {"k%d" % i: "v" * 64}, {"/k%d" % i: "v"},
                   {"k%d\n" % i: "v"}, {"a/b/k%d" % i: "v"}, {"Example.com/k%d" % i: "v"}, {"k%d" % i: "v v"},
                   {"k%d" % i: "v\n"}]
    return values


def bad_annotations():
    values = []
    for i in range(8):
        values += [{"k %d" % i: "v"}, {"/k%d" % i: "v"}, {"k%d_" % i: "v"}, {"x" * 64 + str(i): "v"}]
    values.append({"a": "x" * (256 * 1024)})
    return values


def bad_settings():
    return [{"s%d" % i: [i]} for i in range(4)] + [{"s%d" % i: True} for i in range(4)]


def bad_selectors(site):
    if site.platform != "kubernetes":
        return ["app=a%d" % i for i in range(8)]  # pod selectors exist on Kubernetes only
    values = []
    for i in range(6):
        values += ["app in (a%d" % i, "app=(a%d)" % i, "in (a%d)" % i, "app=a%d," % i]
    return values


def bad_strategies():
    values = []
    for i in range(6):
        values += [{"priority": {"routing_keys": ["Rk%d" % i]}}, {"weighted": {"routing_keys": {"rk%d" % i: 0}}},
                   {"priority": {"routing_keys": ["rk%d" % i]}, "weighted": {"routing_keys": {"rk": 1}}},
                   {"priority": {"routing_keys": ["rk%d" % i, "rk%d" % i]}}, {"ranked%d" % i: {}},
                   {"priority": {"routing_keys": []}}, {"priority": {"keys%d" % i: ["rk"]}},
                   {"weighted": {"routing_keys": {"rk%d" % i: "heavy"}}}]
    return values


def seed(module, index):
    item = {"name": "item-%d" % index, "host": "host%d" % index, "port": 1000 + index}
    if module == "multikeylistener":
        item["strategy"] = STRATEGY
    else:
        item["routing_key"] = "rk%d" % index
    return item


def generated_items(module, site):
    """(option, item) pairs: a valid seed with exactly one option made bad."""
    host_rule = "service" if site.platform == "kubernetes" and module != "connector" else "address"
    pools = [("name", bad_names(site)), ("host", bad_hosts(host_rule)), ("port", bad_ports()),
             ("tls_credentials", bad_tls_credentials(site)), ("labels", bad_labels()),
             ("annotations", bad_annotations()), ("settings", bad_settings())]
    if module == "connector":
        pools.append(("selector", bad_selectors(site)))
    if module == "multikeylistener":
        pools.append(("strategy", bad_strategies()))
    else:
        pools.append(("routing_key", bad_routing_keys()))
    pairs = []
    while len(pairs) < 520:
        for option, values in pools:
            for value in values:
                item = seed(module, len(pairs))
                item[option] = value
                if option == "selector":
                    item.pop("host")
                pairs.append((option, item))
    return pairs


@pytest.mark.parametrize("module", ["listener", "connector", "multikeylistener"])
def test_generated_bad_items_each_named_nothing_written(site, runner, module):
    pairs = generated_items(module, site)
    before = site.snapshot()
    run = runner.run(task(module, site, **{module + "s": [item for _option, item in pairs]}))
    result = run[0]
    assert result["failed"] is True, result
    assert result["msg"].startswith("invalid input, nothing was written: ")
    errors = result["errors"]
    for index, (option, item) in enumerate(pairs):
        prefix = "%ss[%d]." % (module, index)
        mine = [error for error in errors if error.startswith(prefix)]
        assert mine, "item %d (bad %s: %r) got no error" % (index, option, item[option] if option in item else item)
        assert mine[0].startswith(prefix + option + ": "), (index, item, mine)
    assert len(pairs) >= 500
    assert site.snapshot() == before


def test_bad_single_form_and_typed_options_nothing_written(site, runner, tmp_path):
    good = {"name": "good", "routing_key": "rk", "host": "host", "port": 8080}
    cases = [
        # (expected start of msg after "invalid input...", task)
        ("name: 'good\\n'", task("listener", site, **but(good, name="good\n"))),
        ("namespace: 'relns\\n'", task("listener", site, **but(good, namespace="relns\n"))),
        ("routing_key: 'rk\\n'", task("listener", site, **but(good, routing_key="rk\n"))),
        ("host: 'host\\n'", task("listener", site, **but(good, host="host\n"))),
        ("host: ", task("listener", site, **but(good, host="h" * 300))),
        ("host: ", task("connector", site, **but(good, host="a" * 64 + ".example"))),
        ("tls_credentials: '../x'", task("listener", site, **but(good, tls_credentials="../x"))),
        ("tls_credentials: '/etc/ssl'", task("connector", site, **but(good, tls_credentials="/etc/ssl"))),
        ("tls_credentials: 'Bad Name'", task("multikeylistener", site, name="m", host="host", port=1,
                                             strategy=STRATEGY, tls_credentials="Bad Name")),
        ("labels: key 'a b'", task("listener", site, **but(good, labels={"a b": "x"}))),
        ("labels: label 'team'", task("listener", site, **but(good, labels={"team": "x" * 64}))),
        ("annotations: key '/a'", task("connector", site, **but(good, annotations={"/a": "x"}))),
        ("wait_timeout: -1", task("listener", site, **but(good, wait_timeout=-1))),
        ("wait_timeout: 0", task("site", site, name="s", wait_timeout=0)),
        # Ansible types the single form's options itself: its message, no crash (no sub-spec to crash in).
        ("argument 'strategy' is of type list and we were unable to convert to dict",
         task("multikeylistener", site, name="m", host="host", port=1, strategy=[1])),
        ("strategy: priority: must be a mapping", task("multikeylistener", site, name="m", host="host", port=1,
                                                       strategy={"priority": [1]})),
        ("data_home: ['dh'] is not a path", task("listener", site, **but(good, data_home=["dh"]))),
        ("data_home: ['dh'] is not a path", task("listener_info", site, data_home=["dh"])),
        ("listeners[1].port: 'x' is not of type int", task("listener", site, listeners=[
            good, dict(good, name="b", port="x"), dict(good, name="c", hots="h")])),
        ("listeners[0].prot: unknown option", task("listener", site, listeners=["prot=1"])),
        ("multikeylisteners[0].strategy: [1] is not of type dict", task("multikeylistener", site, multikeylisteners=[
            {"name": "m", "host": "host", "port": 1, "strategy": [1]}])),
    ]
    before = site.snapshot()
    run = runner.run(*[case for _expected, case in cases])
    for (expected, _case), result in zip(cases, run.results):
        assert result["failed"] is True, (expected, result)
        assert "MODULE FAILURE" not in result["msg"] and "Traceback" not in result.get("module_stderr", ""), result
        msg = result["msg"]
        prefix = "invalid input: " if "_info" in str(_case) else "invalid input, nothing was written: "
        if expected.startswith("argument "):
            prefix = ""
        assert msg.startswith(prefix), (expected, msg)
        assert msg[len(prefix):].startswith(expected), (expected, msg)
    # A list item that is not a mapping is named by its index, and nothing crashes.
    listed = runner.run(task("listener", site, listeners=["x"]), task("listener", site, listeners=[{"name": "ok"}, 5]))
    for result, where in zip(listed.results, ("listeners[0]: 'x'", "listeners[1]: 5")):
        assert result["failed"] is True and where + " is not a mapping" in result["msg"], result
        assert "MODULE FAILURE" not in result["msg"] and "Traceback" not in result.get("module_stderr", ""), result
    assert site.snapshot() == before
    # data_home ["dh"] was not turned into a folder named "['dh']" anywhere.
    assert not [path for path, _dirs, files in os.walk(tmp_path) if "['dh']" in path]
