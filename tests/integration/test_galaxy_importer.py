"""galaxy-importer, the check Galaxy and Automation Hub run on an uploaded tarball, passes on the built collection.

scripts/build-collection --import-check builds the tarball and runs galaxy-importer on it from a venv of its
own (.build/importer-venv, made on the first run from tests/requirements-importer.txt), with Galaxy's
defaults plus Automation Hub's tag check and without the ansible-test step (no container engine here).
"""

import json
import os

from tests.support.built_collection import build_collection


def test_galaxy_importer_accepts_the_tarball(tmp_path):
    tarball, output = build_collection(tmp_path / "dist", import_check=True, timeout=900)
    print("\n" + output)
    assert "Importer processing completed successfully" in output, output
    assert not [line for line in output.splitlines() if line.startswith("ERROR")], output
    with open(os.path.join(os.path.dirname(tarball), "importer_result.json"), encoding="utf-8") as handle:
        result = json.load(handle)
    # What Galaxy would list: every module and role, each module with its documentation.
    contents = set((item["content_type"], item["name"]) for item in result["contents"])
    for module in ("listener", "multikeylistener", "connector", "site", "link", "access_token", "access_grant"):
        assert ("module", module) in contents, module
    assert ("role", "site") in contents and ("role", "network") in contents
    assert all(item["doc_strings"] for item in result["docs_blob"]["contents"]
               if item["content_type"] == "module"), "a module without docs"
    assert result["requires_ansible"] == ">=2.16.0"
    assert result["docs_blob"]["collection_readme"]["html"], "no README"
    assert os.path.basename(tarball).startswith("skupperlabs-network-")
