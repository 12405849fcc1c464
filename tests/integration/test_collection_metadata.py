"""What Galaxy, Automation Hub and partner certification read besides the code: requirements, runtime, changelog.

- requirements.txt lists exactly the third-party packages plugins/modules and plugins/module_utils import,
  with no upper bound and no ansible-core; meta/runtime.yml requires ansible-core 2.16.0 or later, and the
  README's table of supported versions starts there;
- the changelog fragments lint with antsibull-changelog, each is in a release of changelogs/changelog.yaml,
  and the committed CHANGELOG.md is what antsibull-changelog generates from it (scripts/changelog).
"""

import ast
import glob
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys

import yaml
from packaging.requirements import Requirement

from tests.support.built_collection import ROOT

UPPER_BOUNDS = ("<", "<=", "==", "===", "~=")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return handle.read()


def runtime_requirements():
    lines = [line.split("#")[0].strip() for line in read("requirements.txt").splitlines()]
    return [Requirement(line) for line in lines if line]


def third_party_imports():
    """Top-level names the modules and module_utils import that are neither the standard library nor Ansible."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")) + \
            glob.glob(os.path.join(ROOT, "plugins", "module_utils", "*.py")):
        for node in ast.walk(ast.parse(read(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return sorted(name for name in names
                  if name not in sys.stdlib_module_names and name not in ("ansible", "ansible_collections"))


def test_requirements_txt_lists_what_the_modules_import_without_upper_bounds():
    requirements = runtime_requirements()
    names = sorted(requirement.name.lower() for requirement in requirements)
    distributions = importlib.metadata.packages_distributions()
    imported = sorted(set(distributions[name][0].lower() for name in third_party_imports()))
    assert imported, "no third-party import found: the scan is broken"
    assert names == imported, "requirements.txt %s, the modules import %s" % (names, imported)
    for requirement in requirements:
        bounds = [spec.operator for spec in requirement.specifier if spec.operator in UPPER_BOUNDS]
        assert not bounds, "%s has an upper bound" % requirement
        assert requirement.specifier, "%s has no lower bound" % requirement.name
    test_lines = read("requirements-test.txt").splitlines()
    assert "-r requirements.txt" in test_lines
    assert any(line.startswith("ansible-core") for line in test_lines), "the suite's ansible-core pin"


def test_runtime_requires_ansible_core_2_16_and_the_readme_table_starts_there():
    runtime = yaml.safe_load(read("meta", "runtime.yml"))
    assert runtime["requires_ansible"] == ">=2.16.0"
    readme = read("README.md")
    section = readme[readme.index("## Supported versions"):]
    rows = re.findall(r"^\| ansible-core (2\.\d+) \|", section, re.M)
    assert rows and rows[0] == "2.16", rows
    assert rows == ["2.%d" % minor for minor in range(16, 16 + len(rows))], rows
    assert "(CHANGELOG.md)" in readme, "the README links the changelog"


def antsibull_changelog(*args):
    command = shutil.which("antsibull-changelog", path=os.path.dirname(sys.executable)) or \
        shutil.which("antsibull-changelog")
    assert command, "antsibull-changelog is not installed (requirements-test.txt)"
    return subprocess.run([command] + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


def test_changelog_fragments_lint_and_are_released():
    fragments = sorted(os.path.basename(path) for path in glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*"))
                       if not os.path.basename(path).startswith("."))
    assert fragments
    lint = antsibull_changelog("lint")
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    lint_yaml = antsibull_changelog("lint-changelog-yaml", os.path.join("changelogs", "changelog.yaml"))
    assert lint_yaml.returncode == 0 and not lint_yaml.stdout.strip(), lint_yaml.stdout + lint_yaml.stderr
    changelog = yaml.safe_load(read("changelogs", "changelog.yaml"))
    released = set()
    for release in changelog["releases"].values():
        released.update(release.get("fragments", []))
    version = yaml.safe_load(read("galaxy.yml"))["version"]
    assert version in changelog["releases"], "galaxy.yml's version %s has no release: run scripts/changelog" % version
    missing = [name for name in fragments if name not in released]
    assert not missing, "fragments in no release (run scripts/changelog and commit what it changes): %s" % missing


def test_committed_changelog_is_the_generated_one(tmp_path):
    generated = tmp_path / "CHANGELOG.md"
    process = antsibull_changelog("generate", "--output", str(generated), "--output-format", "md")
    assert process.returncode == 0, process.stdout + process.stderr
    assert read("CHANGELOG.md") == generated.read_text(encoding="utf-8"), \
        "CHANGELOG.md is not what antsibull-changelog generates: run scripts/changelog and commit it"
