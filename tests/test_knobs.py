"""makemore_lib.knobs: a chapter's knobs from its parameters cell, --set applied and checked."""
import pytest

from conftest import CHAPTERS
from makemore_lib import knobs
from makemore_lib.errors import SettingsError

SOURCE = '''# %% [markdown]
# # A chapter

# %% tags=["parameters"]
# the knobs
n_layers = 5            # hidden layers
gain = 5 / 3
use_bias = False

# %%
x = 1
'''


@pytest.fixture
def namespace(tmp_path):
    """A script's globals after its parameters cell ran."""
    path = tmp_path / "04_x.py"
    path.write_text(SOURCE)
    ns = {"__file__": str(path)}
    exec(compile(knobs.CELL.search(SOURCE).group(1), str(path), "exec"), ns)
    yield ns
    knobs._changed.clear()


def test_the_parameters_cell_declares_the_knobs_and_nothing_after_it_counts():
    assert knobs.declared(SOURCE) == {"n_layers": 5, "gain": 5 / 3, "use_bias": False}
    assert knobs.declared("# %%\nx = 1\n") == {}


def test_set_changes_the_namespace_and_the_run_says_so(namespace):
    changed = knobs.apply(namespace, ["n_layers=10", "gain=1", "use_bias=yes"], "04_x")
    assert (namespace["n_layers"], namespace["gain"], namespace["use_bias"]) == (10, 1.0, True)
    assert type(namespace["gain"]) is float
    assert changed == {"n_layers": (10, 5), "gain": (1.0, 5 / 3), "use_bias": (True, False)}
    assert knobs.note() == "your knobs: n_layers=10, gain=1, use_bias=True (book: n_layers=5, gain=1.667, use_bias=False)"
    assert knobs.suffix() == "--n_layers=10--gain=1--use_bias=True"


def test_the_book_values_change_nothing(namespace):
    assert knobs.apply(namespace, ["n_layers=5"], "04_x") == {}
    assert knobs.note() == "" and knobs.suffix() == ""


@pytest.mark.parametrize("item, problem", [
    ("depth=3", "--set: no knob 'depth'"),
    ("n_layers", "--set: 'n_layers' is not NAME=VALUE"),
    ("n_layers=2.5", "--set n_layers='2.5': n_layers takes a whole number above 0"),
    ("n_layers=0", "--set n_layers='0': n_layers takes a whole number above 0"),
    ("gain=fast", "--set gain='fast': gain takes a number above 0"),
    ("use_bias=maybe", "--set use_bias='maybe': use_bias takes true or false"),
])
def test_a_bad_name_or_value_is_one_line_listing_the_knobs(namespace, item, problem):
    with pytest.raises(SettingsError) as e:
        knobs.apply(namespace, [item], "04_x")
    assert str(e.value) == f"{problem}; the knobs of 04_x (book values) are n_layers=5, gain=1.667, use_bias=False"


def test_a_value_papermill_injected_with_the_wrong_type_is_refused(namespace):
    namespace["n_layers"] = "ten"          # papermill -p n_layers ten
    with pytest.raises(SettingsError, match=r"^n_layers='ten': n_layers takes a whole number above 0; the knobs"):
        knobs.apply(namespace, [], "04_x")


def test_in_a_kernel_the_book_values_come_from_the_first_cell_it_ran(namespace):
    cell = knobs.CELL.search(SOURCE).group(1)
    kernel = {"In": ["", cell, "n_layers = 10\n", "x = 1"], "n_layers": 10, "gain": 5 / 3, "use_bias": False}
    assert knobs.apply(kernel, [], "this chapter") == {"n_layers": (10, 5)}


@pytest.mark.parametrize("source", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_declares_its_knobs_in_its_first_code_cell(source):
    text = source.read_text(encoding="utf-8")
    first_code = text.split("\n# %%", 2)[1]       # the cell after the title's Markdown cell
    assert first_code.startswith(' tags=["parameters"]'), f"{source.name}: the first code cell is not the parameters cell"
    declared = knobs.declared(text)
    assert declared and all(isinstance(v, (int, float, bool, str)) for v in declared.values()), declared
    assert "chapter.begin(globals())" in text, f"{source.name}: chapter.begin does not receive the knobs"
