"""The chapters are Jupytext-paired notebooks: Jupytext's own configuration pairs them, and the
venv has a kernel, so `jupytext --to ipynb --execute` runs a chapter as Jupyter would."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from jupytext.config import load_jupytext_config

from conftest import REPO

JUPYTEXT = Path(sys.executable).parent / "jupytext"


def test_jupytext_pairs_every_chapter_with_a_notebook():
    config = load_jupytext_config(str(REPO / "chapters"))
    assert config is not None and config.default_formats(str(REPO / "chapters" / "01_data.py")) == "ipynb,py:percent"
    ignored = subprocess.run(["git", "check-ignore", "chapters/01_data.ipynb"], cwd=REPO, capture_output=True)
    assert ignored.returncode == 0, "paired notebooks must stay out of git"


def test_jupytext_executes_a_chapter_with_the_projects_kernel(tmp_path):
    out = tmp_path / "01_data.ipynb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEMORE_")}
    env.update(MAKEMORE_QUICK="1", MPLBACKEND="Agg")   # the figures must survive an inherited backend too
    proc = subprocess.run([str(JUPYTEXT), "--to", "ipynb", "--execute", str(REPO / "chapters" / "01_data.py"),
                           "-o", str(out)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "mode: quick" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
