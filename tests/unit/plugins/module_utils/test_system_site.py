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


LISTENER_OBJ = {"apiVersion": "skupper.io/v2alpha1", "kind": "Listener", "metadata": {"name": "backend"},
                "spec": {"routingKey": "backend", "host": "backend", "port": 8080}}


def _lock_is_free(path):
    import fcntl
    import os
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def test_reading_a_new_namespace_locks_the_nearest_folder_and_creates_nothing(tmp_path):
    data_home = tmp_path / "data"
    backend = system_site.SystemSiteBackend(str(data_home))
    with backend.locked("west"):
        assert backend.get(LISTENER, "west", "backend") is None
        assert not _lock_is_free(str(tmp_path)), "the nearest existing folder is not held"
    assert _lock_is_free(str(tmp_path))
    assert not data_home.exists()


def test_the_first_write_creates_the_lock_file_already_held_and_it_is_released_after(tmp_path):
    data_home = tmp_path / "data"
    backend = system_site.SystemSiteBackend(str(data_home))
    lock_path = backend.lock_path("west")
    assert lock_path == str(data_home / system_site.LOCK_FOLDER / "west.lock")
    with backend.locked("west"):
        backend.create(LISTENER, "west", dict(LISTENER_OBJ))
        assert not _lock_is_free(lock_path)
        with backend.locked("west"):  # re-entrant: an inner use does not release it
            pass
        assert not _lock_is_free(lock_path)
    assert _lock_is_free(lock_path)
    # No temp folder or file of the lock's creation is left behind.
    assert sorted(p.name for p in data_home.iterdir()) == [system_site.LOCK_FOLDER, "namespaces"]
    assert [p.name for p in (data_home / system_site.LOCK_FOLDER).iterdir()] == ["west.lock"]


def test_a_linked_lock_folder_is_refused(tmp_path):
    import pytest
    from ansible_collections.skupperlabs.network.plugins.module_utils.errors import SkupperError
    data_home = tmp_path / "data"
    data_home.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (data_home / system_site.LOCK_FOLDER).symlink_to(tmp_path / "elsewhere")
    backend = system_site.SystemSiteBackend(str(data_home))
    with pytest.raises(SkupperError) as refused:
        with backend.locked("west"):
            pass
    assert "symbolic link" in refused.value.msg and system_site.LOCK_FOLDER in refused.value.msg


def test_a_file_that_vanishes_after_the_read_is_a_conflict_not_an_os_error(tmp_path):
    import os
    import pytest
    from ansible_collections.skupperlabs.network.plugins.module_utils.errors import ConflictError
    backend = system_site.SystemSiteBackend(str(tmp_path))
    backend.create(LISTENER, "west", dict(LISTENER_OBJ))
    reader = system_site.SystemSiteBackend(str(tmp_path))
    assert reader.get(LISTENER, "west", "backend") is not None
    os.unlink(backend.path(LISTENER, "west", "backend"))
    changed = dict(LISTENER_OBJ, spec=dict(LISTENER_OBJ["spec"], port=9))
    with pytest.raises(ConflictError) as conflict:
        reader.replace(LISTENER, "west", changed)
    assert "changed while this task ran" in conflict.value.msg


def test_the_stale_temp_pattern_is_write_files_own():
    import tempfile
    fd, path = tempfile.mkstemp(prefix=".Listener-backend.yaml.", suffix=".tmp")
    try:
        import os
        assert system_site.STALE_TEMP.match(os.path.basename(path))
    finally:
        os.close(fd)
        os.unlink(path)
    for other in (".Listener-backend.yaml.tmp", "Listener-backend.yaml.abcdefgh.tmp", ".x.json.abcdefgh.tmp",
                  ".x.yaml.abcdefgh.tmp\n", ".x.yaml.ABCDEFGH.tmp", ".x.yaml.abcdefghi.tmp"):
        assert not system_site.STALE_TEMP.match(other), other
