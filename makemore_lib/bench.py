"""Steps per second of three training loops, in one process: `python -m makemore_lib.bench`.

    autograd   the part-4 network (n_hidden 200, batch 32) trained by train.train (loss.backward())
    manual     the same network trained by backprop.train_manual (the manual backward, no autograd)
    deep       chapter 4's deep BatchNorm MLP (models.deep_mlp) trained by train.train

The three alternate over several rounds (after one warm-up round) and each reports its median,
so a burst of load on a shared machine hits all of them rather than one. The last line reads
`manual/autograd speed ratio: R`. Options: --rounds N, --steps N (per round and loop), --quick.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import torch

from . import backprop, data, models, settings, train


def _loops(D):
    """name -> function(steps) -> seconds spent in the training loop."""
    def autograd(steps):
        g = torch.Generator().manual_seed(settings.SEED)
        net = backprop.BackpropMLP(D.vocab_size, n_hidden=200, generator=g)
        return train.train(net, D.Xtr, D.Ytr, steps, g, ud_every=None).seconds

    def manual(steps):
        g = torch.Generator().manual_seed(settings.SEED)
        net = backprop.BackpropMLP(D.vocab_size, n_hidden=200, generator=g)
        return backprop.train_manual(net, D.Xtr, D.Ytr, steps, g).seconds

    def deep(steps):
        g = torch.Generator().manual_seed(settings.SEED)
        model = models.deep_mlp(D.vocab_size, generator=g)
        return train.train(model, D.Xtr, D.Ytr, steps, g, ud_every=None).seconds

    return {"autograd": autograd, "manual": manual, "deep": deep}


def measure(D, rounds: int, steps: int) -> dict[str, float]:
    """Median steps/second of each loop over `rounds` alternating rounds (after a warm-up)."""
    loops = _loops(D)
    rates = {name: [] for name in loops}
    for r in range(rounds + 1):
        order = list(loops) if r % 2 == 0 else list(reversed(loops))
        for name in order:
            seconds = loops[name](steps)
            if r > 0:
                rates[name].append(steps / seconds)
    return {name: statistics.median(v) for name, v in rates.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m makemore_lib.bench", description=__doc__.splitlines()[0],
                                     allow_abbrev=False)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=300)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    S = settings.load(rest)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be positive")
    D = data.load_splits(S.data_path)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"{args.rounds} rounds x {args.steps} steps per loop (medians; timings on a shared machine are noisy)")
    rates = measure(D, args.rounds, args.steps)
    labels = {"autograd": "part-4 net, autograd step", "manual": "part-4 net, manual backward step",
              "deep": "chapter-4 deep BN MLP, autograd step"}
    for name, rate in rates.items():
        print(f"{labels[name]:38s} {rate:8.0f} steps/s  ({1e6 / rate:6.0f} us/step)")
    print(f"autograd/deep speed ratio: {rates['autograd'] / rates['deep']:.2f}")
    print(f"manual/deep speed ratio: {rates['manual'] / rates['deep']:.2f}")
    print(f"manual/autograd speed ratio: {rates['manual'] / rates['autograd']:.2f}")


if __name__ == "__main__":
    main()
