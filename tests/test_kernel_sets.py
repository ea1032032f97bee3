"""The tests whose verdicts depend on the CPU's kernels, again under the kernels of other machines.

torch picks its float32 kernels by the CPU's vector instructions (AVX-512, AVX2, none), so the
rounding of every gradient (and with it the verdict "exact / close / wrong") and every trajectory
of a training run depend on which machine runs the book. Every test marked kernels (the
hand-written backward passes against autograd; every chapter run as a script, whose claims that do
not need the full training must all hold) runs again here in a pytest of its own with
ATEN_CPU_CAPABILITY set, which makes torch use that machine's kernels on this one.
"""
import re

import pytest

from conftest import KERNEL_SETS


@pytest.mark.parametrize("kernel_set_run", KERNEL_SETS, indirect=True)
def test_the_gradient_checks_pass_under_the_kernels_of_another_machine(kernel_set_run):
    capability, out = kernel_set_run["capability"], kernel_set_run["stdout"]
    tail = "\n".join(out.splitlines()[-40:]) + kernel_set_run["stderr"][-2000:]
    assert f"torch CPU kernels: {capability.upper()}" in out, tail   # the variable took effect
    assert kernel_set_run["returncode"] == 0, tail
    selected = re.search(r"collected \d+ items / \d+ deselected / (\d+) selected", out)
    summary = out.strip().splitlines()[-1]
    assert selected and int(selected.group(1)) > 0, tail             # the marked tests were found
    assert re.fullmatch(rf"=+ {selected.group(1)} passed, \d+ deselected in [\d.]+s( \(.*\))? =+", summary), tail
