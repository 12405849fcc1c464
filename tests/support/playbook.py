"""Run real ansible-playbook processes and read back what each task returned.

Each task of a run is registered and kept going on failure (``ignore_errors``),
and a last task writes every registered result as JSON, so a test can assert
on ``changed``, ``failed``, ``msg`` and the returned values as a user would
see them, one playbook process per run.
"""

import json
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")


def ansible_playbook():
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return beside if os.path.exists(beside) else shutil.which("ansible-playbook")


class PlaybookRun:
    def __init__(self, process, results):
        self.rc = process.returncode
        self.stdout = process.stdout
        self.stderr = process.stderr
        self.results = results

    def __getitem__(self, index):
        return self.results[index]

    def __repr__(self):
        return "PlaybookRun(rc=%s)\n%s\n%s" % (self.rc, self.stdout[-4000:], self.stderr[-2000:])


class PlaybookRunner:
    """Writes and runs playbooks of the given tasks against localhost."""

    def __init__(self, workdir, env=None):
        self.workdir = str(workdir)
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_HOME": os.path.join(self.workdir, "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_DEPRECATION_WARNINGS": "0",
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        })
        self.env.update(env or {})
        self.count = 0

    def run(self, *tasks, check=False, diff=False, env=None, extra_args=()):
        """Runs the tasks in one playbook; a variable set to None in ``env`` is removed from the environment."""
        self.count += 1
        out = os.path.join(self.workdir, "results-%d.json" % self.count)
        plays_tasks = []
        for index, task in enumerate(tasks):
            task = dict(task)
            task["register"] = "_result_%d" % index
            task["ignore_errors"] = True
            plays_tasks.append(task)
        collected = "{%s}" % ", ".join("'%d': _result_%d" % (i, i) for i in range(len(tasks)))
        plays_tasks.append({
            "name": "Save the results for the test",
            "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % collected, "dest": out},
            "check_mode": False,
            "diff": False,
        })
        play = [{"hosts": "localhost", "gather_facts": False, "tasks": plays_tasks}]
        path = os.path.join(self.workdir, "playbook-%d.yml" % self.count)
        with open(path, "w") as handle:
            yaml.safe_dump(play, handle, sort_keys=False)
        command = [ansible_playbook(), "-i", "localhost,", "-c", "local", path]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        command.extend(extra_args)
        run_env = dict(self.env)
        run_env.update(env or {})
        run_env = dict((key, value) for key, value in run_env.items() if value is not None)
        process = subprocess.run(command, capture_output=True, text=True, env=run_env, cwd=self.workdir,
                                 timeout=300, check=False)
        results = []
        if os.path.exists(out):
            with open(out) as handle:
                saved = json.load(handle)
            results = [saved[str(i)] for i in range(len(tasks))]
        run = PlaybookRun(process, results)
        if process.returncode != 0 or not results:
            raise AssertionError("ansible-playbook failed outside the tasks under test:\n%r" % run)
        return run


def run_playbook(runner, playbook, inventory, *extra_args, env=None):
    """Run one of the collection's own playbooks as a user would, with an inventory file.

    A variable set to None in ``env`` is removed from the environment (for instance
    ANSIBLE_PYTHON_INTERPRETER, which a user's shell does not set)."""
    run_env = dict(runner.env)
    run_env.update(env or {})
    run_env = dict((key, value) for key, value in run_env.items() if value is not None)
    return subprocess.run([ansible_playbook(), "-i", str(inventory), os.path.join(ROOT, playbook)] + list(extra_args),
                          capture_output=True, text=True, env=run_env, cwd=runner.workdir, timeout=600, check=False)


def merged(base, **changes):
    """A copy of ``base`` with ``changes`` applied: task options derived from a seed."""
    result = dict(base)
    result.update(changes)
    return result
