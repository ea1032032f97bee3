import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
NAMES = REPO / "data" / "names.txt"

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def splits():
    from makemore_lib import data
    return data.load_splits(NAMES)


def run_python(code_or_args, env_extra=None, cwd=None, timeout=300):
    """Run the venv's python in a subprocess with MAKEMORE_* cleared except `env_extra`."""
    import os
    import subprocess
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKEMORE_")}
    env.update(env_extra or {})
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else list(code_or_args)
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd or REPO, capture_output=True,
                          text=True, timeout=timeout)
