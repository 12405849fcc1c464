"""The docs site: scripts/docs-site builds it (antsibull-docs and Sphinx, offline, warnings as errors),
and the pages a user reads are checked as headless Chromium renders them (``--dump-dom`` runs the
page's JavaScript and prints the resulting DOM).

What each page must show is read from the collection itself through ``ansible-doc -j`` (options,
suboptions, types, choices, defaults, return values, examples) and from the Markdown of docs/, so a
page that lost an option, a return value, an example or a guide's section fails.

Pages:
- the listener module: the options table, the examples, the return values;
- the rollout (playbooks/rollout.yml) as a user reads it: the pages of its two roles, ``network`` and
  ``site`` (their entry points and every variable the inventory sets), and the guide that walks
  through a rollout job, docs/awx.md rendered from Markdown.

Chromium is Debian's ``chromium`` (.ci/run installs it); without it the page tests are skipped.
"""

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, ".build", "docs-site")
COLLECTION_PAGES = os.path.join(SITE, "collections", "skupperlabs", "network")
COLLECTIONS = os.path.join(ROOT, ".build", "collections")

# How antsibull-docs names Ansible's option types on a page.
TYPE_NAMES = {
    "str": "string", "bool": "boolean", "int": "integer", "float": "float", "dict": "dictionary",
    "list": "list", "path": "path", "raw": "any", "any": "any",
}

# Elements that have no end tag in the HTML that Chromium serializes.
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                 "track", "wbr"}


class Element:
    """One element of the dumped DOM."""

    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children = []

    def text(self):
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def heading(self):
        """A heading's words without Sphinx's link-to-this-heading icon."""
        return " ".join("".join(
            child if isinstance(child, str) else child.text() for child in self.children
            if isinstance(child, str) or "headerlink" not in child.attrs.get("class", "").split()).split())

    def words(self):
        return " ".join(self.text().split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def by_id(self, element_id):
        return next((element for element in self.iter() if element.attrs.get("id") == element_id), None)

    def all(self, *tags):
        return [element for element in self.iter() if element.tag in tags]

    def ancestor(self, tag):
        node = self.parent
        while node is not None and node.tag != tag:
            node = node.parent
        return node


class DomBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in VOID_ELEMENTS:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def chromium():
    return shutil.which("chromium")


def rendered(page, tmp_path):
    """The DOM of a page of the site after Chromium ran its scripts."""
    path = os.path.join(SITE, page)
    assert os.path.isfile(path), "%s was not built" % path
    command = [chromium(), "--headless", "--disable-gpu", "--no-first-run",
               "--user-data-dir=%s" % (tmp_path / "chromium-profile")]
    if os.geteuid() == 0:
        command.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    command += ["--dump-dom", "file://" + path]
    process = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "</html>" in process.stdout, "no DOM from chromium: " + process.stderr[-3000:]
    builder = DomBuilder()
    builder.feed(process.stdout)
    builder.close()
    return builder.root


def ansible_doc(plugin_type, name):
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    command = beside if os.path.exists(beside) else shutil.which("ansible-doc")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    process = subprocess.run([command, "-j", "-t", plugin_type, name], capture_output=True, text=True,
                             timeout=120, check=False, env=env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)[name]


def flatten(options, key, prefix=""):
    """(path, spec) of every option and nested option, paths joined by / as antsibull-docs anchors them."""
    for name, spec in sorted(options.items()):
        yield prefix + name, spec
        yield from flatten(spec.get(key) or {}, key, prefix + name + "/")


def type_name(spec):
    name = TYPE_NAMES[spec.get("type", "str")]
    if spec.get("type") == "list":
        name += " / elements=" + TYPE_NAMES[spec.get("elements", "str")]
    return name


def choice_text(value):
    return json.dumps(value) if isinstance(value, str) else json.dumps(value).lower()


def check_options_table(dom, options, anchor_prefix):
    """Every option is a row of the Parameters table, with its type, its choices and its default."""
    section = dom.by_id("parameters")
    assert section is not None, "no Parameters section"
    problems = []
    for path, spec in flatten(options, "suboptions"):
        anchor = dom.by_id("parameter-%s%s" % (anchor_prefix, path))
        if anchor is None or anchor.ancestor("table") is None or not is_inside(anchor, section):
            problems.append("%s: no row in the Parameters table" % path)
            continue
        row = anchor.ancestor("tr").words()
        name = path.rsplit("/", 1)[-1]
        if not row.startswith(name + " " + type_name(spec)):
            problems.append("%s: row starts %r, expected the name and %r" % (path, row[:60], type_name(spec)))
        # antsibull-docs lists a boolean's two values as its choices
        choices = spec.get("choices") or ([False, True] if spec.get("type") == "bool" else [])
        for choice in choices:
            if choice_text(choice) not in row:
                problems.append("%s: choice %s missing" % (path, choice_text(choice)))
        default = spec.get("default")
        if default is not None:
            shown = choice_text(default) + " ← (default)" if choices else "Default: " + choice_text(default)
            if shown not in row:
                problems.append("%s: %r missing" % (path, shown))
    assert not problems, "\n".join(problems)


def is_inside(element, ancestor):
    node = element.parent
    while node is not None:
        if node is ancestor:
            return True
        node = node.parent
    return False


@pytest.fixture(scope="module")
def docs_site():
    """Builds the site once for this file: the build fails on any warning."""
    process = subprocess.run(["bash", os.path.join(ROOT, "scripts", "docs-site")], capture_output=True,
                             text=True, timeout=900, check=False)
    assert process.returncode == 0, process.stdout[-5000:] + process.stderr[-5000:]
    return SITE


@pytest.fixture
def needs_chromium(docs_site):
    if not chromium():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it): the pages cannot be rendered")
    return docs_site


def test_the_site_has_a_page_for_every_module_filter_role_and_guide(docs_site):
    plugins = {
        "module": sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                         if name.endswith(".py")),
        "filter": sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, "plugins", "filter"))
                         if name.endswith(".yml")),
        "role": sorted(name for name in os.listdir(os.path.join(ROOT, "roles"))
                       if os.path.isfile(os.path.join(ROOT, "roles", name, "meta", "argument_specs.yml"))),
    }
    assert plugins["module"] and plugins["filter"] and plugins["role"]
    missing = ["%s_%s.html" % (name, kind) for kind, names in plugins.items() for name in names
               if not os.path.isfile(os.path.join(COLLECTION_PAGES, "%s_%s.html" % (name, kind)))]
    guides = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md"))
    missing += ["guides/%s.html" % name for name in guides
                if not os.path.isfile(os.path.join(SITE, "guides", name + ".html"))]
    assert not missing, missing
    with open(os.path.join(SITE, "index.html"), encoding="utf-8") as index:
        start = index.read()
    for name in guides:
        assert 'href="guides/%s.html"' % name in start, "the start page does not link guide %s" % name


def test_listener_page_shows_options_examples_and_return_values(needs_chromium, tmp_path):
    doc = ansible_doc("module", "skupperlabs.network.listener")
    dom = rendered("collections/skupperlabs/network/listener_module.html", tmp_path)

    title = dom.all("h1")[0].heading()
    assert title.startswith("skupperlabs.network.listener module – " + doc["doc"]["short_description"]), title

    check_options_table(dom, doc["doc"]["options"], "")

    examples = dom.by_id("examples")
    assert examples is not None, "no Examples section"
    blocks = examples.all("pre")
    assert len(blocks) == 1, "expected one examples block, found %d" % len(blocks)
    assert yaml.safe_load(blocks[0].text()) == yaml.safe_load(doc["examples"]), \
        "the rendered examples differ from the module's EXAMPLES"

    returns = dom.by_id("return-values")
    assert returns is not None, "no Return Values section"
    problems = []
    for path, spec in flatten(doc["return"], "contains"):
        anchor = dom.by_id("return-" + path)
        if anchor is None or anchor.ancestor("table") is None or not is_inside(anchor, returns):
            problems.append("%s: no row in the Return Values table" % path)
            continue
        row = anchor.ancestor("tr").words()
        if not row.startswith(path.rsplit("/", 1)[-1] + " " + type_name(spec)):
            problems.append("%s: row starts %r, expected the name and %r" % (path, row[:60], type_name(spec)))
        if "Returned:" not in row:
            problems.append("%s: no Returned: line" % path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ["network", "site"])
def test_rollout_role_pages_show_entry_points_and_options(needs_chromium, tmp_path, role):
    doc = ansible_doc("role", "skupperlabs.network." + role)
    dom = rendered("collections/skupperlabs/network/%s_role.html" % role, tmp_path)
    assert doc["entry_points"]
    headings = [heading.heading() for heading in dom.all("h2")]
    for entry_point, spec in doc["entry_points"].items():
        heading = "Entry point %s – %s" % (entry_point, spec["short_description"])
        assert heading in headings, "%r not among %r" % (heading, headings)
        assert spec.get("options"), "entry point %s documents no options" % entry_point
        check_options_table(dom, spec["options"], entry_point + "--")


def test_rollout_guide_is_rendered_from_markdown(needs_chromium, tmp_path):
    """docs/awx.md walks through a rollout.yml job: its headings and every code block are on the page."""
    with open(os.path.join(ROOT, "docs", "awx.md"), encoding="utf-8") as source:
        markdown = source.read()
    headings, blocks, fence, block = [], [], None, []
    for line in markdown.splitlines():
        if fence is not None:
            if line.startswith(fence):
                blocks.append("\n".join(block))
                fence, block = None, []
            else:
                block.append(line)
        elif line.startswith("```"):
            fence = re.match(r"`+", line).group(0)
        elif line.startswith("#"):
            headings.append(line.lstrip("#").strip().replace("`", ""))
    assert "playbooks/rollout.yml" in markdown and headings and blocks

    dom = rendered("guides/awx.html", tmp_path)
    shown = [heading.heading() for heading in dom.all("h1", "h2", "h3", "h4")]
    assert [heading for heading in headings if heading not in shown] == [], shown
    code = [element.text().rstrip("\n") for element in dom.all("pre")]
    assert [text for text in blocks if text.rstrip("\n") not in code] == []
    assert "playbooks/rollout.yml" in dom.words()
