"""System-site paths and Skupper's default data home."""

from ansible_collections.skupperlabs.network.plugins.module_utils import system_site
from ansible_collections.skupperlabs.network.plugins.module_utils.kinds import LISTENER


def test_default_data_home_is_skuppers():
    assert system_site.default_data_home({}, uid=0) == "/var/lib/skupper"
    assert system_site.default_data_home({"XDG_DATA_HOME": "/x/data"}, uid=1000) == "/x/data/skupper"
    assert system_site.default_data_home({}, uid=1000).endswith("/.local/share/skupper")


def test_resource_path_follows_skuppers_layout(tmp_path):
    backend = system_site.SystemSiteBackend(str(tmp_path))
    assert backend.path(LISTENER, "west", "backend") == str(
        tmp_path / "namespaces" / "west" / "input" / "resources" / "Listener-backend.yaml")


def test_temp_files_are_never_loaded_by_skupper(tmp_path):
    """Skupper loads every .yaml/.yml name (site_state_loader.go): a temp file must end otherwise."""
    assert system_site.is_loaded_name("Listener-backend.yaml") and system_site.is_loaded_name("x.yml")
    assert not system_site.is_loaded_name("x.json")
    backend = system_site.SystemSiteBackend(str(tmp_path))
    seen = []
    real_rename = system_site.os.rename

    def spy(source, target):
        if str(target).startswith(backend.resource_dir("west")):  # not the namespace lock's folder
            seen.append(system_site.os.path.basename(source))
        return real_rename(source, target)
    system_site.os.rename = spy
    try:
        backend.create(LISTENER, "west", {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
                                          "metadata": {"name": "backend"}, "spec": {}})
    finally:
        system_site.os.rename = real_rename
    assert len(seen) == 1 and seen[0].startswith(".") and not system_site.is_loaded_name(seen[0])
