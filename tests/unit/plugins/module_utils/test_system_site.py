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


def test_temp_files_do_not_look_like_resources_to_skuppers_watcher():
    assert system_site.RESOURCE_FILE.match("Listener-backend.yaml")
    assert not system_site.RESOURCE_FILE.match(".Listener-backend.abc123.tmp")
