"""Words, vocabulary, the train/val/test split and the context windows.

What a word list may hold (the README states the same): one word per line, UTF-8. A word is
made of letters of any script, digits, combining marks, apostrophes and hyphens; it is read
in Unicode NFC form (so "é" typed as one character or as e + accent is one token) and its case
is kept ("Emma" and "emma" are different words, "E" and "e" different tokens). Spaces around a
word, blank lines and a byte-order mark are ignored. Anything else is refused with one line
naming the first offending line: "." (the start/end marker), a space or tab inside a word,
punctuation, symbols and control characters. Every number derived from the vocabulary (its
size, ln V) follows from the list loaded.

    words = load_words(path)                    # one word per line, stripped, blanks and a BOM skipped
    stoi, itos = build_vocab(words)             # '.' is index 0, then the file's own characters
    train, val, test = split_words(words)       # random.seed(42) shuffle, 80/10/10
    check_split_sizes(path, train, val, test)   # every split has a word, train >= one batch of examples
    X, Y = build_dataset(train, block_size, stoi)   # X (N, block_size), Y (N,), int64
"""
from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataError
from .settings import DATA_HINT, SPLIT_SEED

if TYPE_CHECKING:
    import torch

BOUNDARY = "."  # start and end of every word
MIN_TRAIN_EXAMPLES = 32  # one minibatch of the lecture's batch size
BOM = "\ufeff"  # a UTF-8 byte-order mark, written by some editors at the start of a file


def allowed(ch: str) -> bool:
    """A letter (any script), a digit, a combining mark, an apostrophe or a hyphen."""
    return unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) == "Nd" or ch in "'-"


def load_words(path: str | Path) -> list[str]:
    """One word per line, NFC-normalised and stripped of spaces and line ends (LF or CRLF); blank
    lines and a leading byte-order mark are skipped. DataError, naming the first offending line,
    if the file is missing, not UTF-8, has no words, or a word holds a character a word may not
    (see the module's docstring)."""
    path = Path(path)
    hint = DATA_HINT
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {hint}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file; {hint}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(f"{path}: not UTF-8 (bad byte at line {line}); {hint}") from None
    text = unicodedata.normalize("NFC", text.removeprefix(BOM))
    words = []
    for lineno, line in enumerate(text.splitlines(), 1):
        word = line.strip()
        bad = next((ch for ch in word if not allowed(ch)), None)
        if bad is not None:
            raise DataError(f"{path}: line {lineno} {word!r} contains {_describe(bad)}; " + (
                f"'{BOUNDARY}' marks the start and end of every word" if bad == BOUNDARY else
                "a word is letters, digits, ' and - only, one word per line") + "; remove it")
        if word:
            words.append(word)
    if not words:
        raise DataError(f"{path}: no words (the file is empty or blank); {hint}")
    return words


def _describe(ch: str) -> str:
    """A character as a reader can find it: '.' (FULL STOP), ' ' (SPACE), '\\t' (U+0009)."""
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    return f"{ch!r} ({name})"


def build_vocab(words: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """'.' -> 0, then every character of the words in sorted order -> 1, 2, ..."""
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi[BOUNDARY] = 0
    itos = {i: s for s, i in stoi.items()}
    return stoi, itos


def split_words(words: list[str], seed: int = SPLIT_SEED) -> tuple[list[str], list[str], list[str]]:
    """The lecture's split: random.seed(42); random.shuffle(words); 80% / 10% / 10%.

    A private random.Random(42) shuffles exactly as the seeded global one would,
    without touching the caller's global random state.
    """
    words = list(words)
    random.Random(seed).shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    return words[:n1], words[n1:n2], words[n2:]


def check_split_sizes(path: str | Path, train: list[str], dev: list[str], test: list[str]) -> None:
    """DataError, naming the file and every split's size, unless each split has a word and
    the training split has at least MIN_TRAIN_EXAMPLES context windows (one minibatch)."""
    splits = {"train": train, "dev": dev, "test": test}
    examples = {name: sum(len(w) + 1 for w in ws) for name, ws in splits.items()}
    if all(splits.values()) and examples["train"] >= MIN_TRAIN_EXAMPLES:
        return
    plural = lambda n, unit: f"{n:,} {unit}" + ("" if n == 1 else "s")
    sizes = ", ".join(f"{name} {plural(len(ws), 'word')} ({plural(examples[name], 'example')})"
                      for name, ws in splits.items())
    raise DataError(f"{path}: too few words for the 80/10/10 split: {sizes}; each split needs at "
                    f"least 1 word and train at least {MIN_TRAIN_EXAMPLES} examples (one batch); "
                    f"use a longer word list")


def check_file(path: str | Path) -> list[str]:
    """The words of `path`, after every check `load_splits` makes (see load_words and
    check_split_sizes), without building any tensor."""
    words = load_words(path)
    check_split_sizes(path, *split_words(words))
    return words


def build_dataset(words: list[str], block_size: int, stoi: dict[str, int]):
    """Every (context, next character) pair: X (N, block_size) and Y (N,), both int64.

    The context starts as block_size boundary tokens and slides one character at a time,
    so "emma" with block_size 3 gives ... -> e, ..e -> m, .em -> m, emm -> a, mma -> .
    """
    import torch  # imported here: reading and checking a word list (the site build) needs no torch

    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + BOUNDARY:
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X, dtype=torch.int64).view(-1, block_size), torch.tensor(Y, dtype=torch.int64)


@dataclass
class Splits:
    """Everything a chapter needs from the data, named as in the lecture."""
    words: list[str]
    stoi: dict[str, int]
    itos: dict[int, str]
    block_size: int
    Xtr: torch.Tensor
    Ytr: torch.Tensor
    Xdev: torch.Tensor
    Ydev: torch.Tensor
    Xte: torch.Tensor
    Yte: torch.Tensor

    @property
    def vocab_size(self) -> int:
        return len(self.itos)


def load_splits(path: str | Path, block_size: int = 3) -> Splits:
    """Words, vocabulary, split and windows of `path`; DataError first if any check fails."""
    words = load_words(path)
    train, val, test = split_words(words)
    check_split_sizes(path, train, val, test)
    stoi, itos = build_vocab(words)
    return Splits(words, stoi, itos, block_size,
                  *build_dataset(train, block_size, stoi),
                  *build_dataset(val, block_size, stoi),
                  *build_dataset(test, block_size, stoi))
