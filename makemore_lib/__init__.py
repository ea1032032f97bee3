"""makemore_lib: the small library the chapters of makemore-notes import.

data.py      words, vocabulary, split, context windows
layers.py    Linear, BatchNorm1d, LayerNorm, activations, Embedding, Flatten, Sequential (from scratch)
models.py    the lecture's MLP (chapters 2-3) and the deep MLP builder (chapter 4)
train.py     minibatch SGD, split_loss, BatchNorm calibration, sampling
backprop.py  chapter 5: the part-4 network, manual backward passes, training without autograd
bench.py     python -m makemore_lib.bench: autograd vs manual-backward training speed
settings.py  quick/full mode, steps, data path, seeds: read once, passed on
report.py    what a chapter shows besides figures: stamp, run records, tables
lecture.py   the lecture's published numbers, for comparison
plots.py     every figure helper, one style (the only module importing matplotlib)
errors.py    the errors a reader can fix, printed as one line in a script
"""
