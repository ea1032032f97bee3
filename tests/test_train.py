import math

import pytest
import torch

from makemore_lib import models, settings, train
from makemore_lib.errors import TrainingDiverged


def gen(seed=settings.SEED):
    return torch.Generator().manual_seed(seed)


def test_minibatches_are_the_lectures_per_step_draws(splits):
    g1, g2 = gen(), gen()
    batches = list(train.minibatches(splits.Xtr, splits.Ytr, 50, 32, g1, "test"))
    assert [i for i, _, _ in batches] == list(range(50))
    for i, Xb, Yb in batches:
        ix = torch.randint(0, splits.Xtr.shape[0], (32,), generator=g2)   # the lecture's step i
        assert torch.equal(Xb, splits.Xtr[ix]) and torch.equal(Yb, splits.Ytr[ix])
        assert Xb.shape == (32, splits.block_size) and Yb.shape == (32,)


def test_train_is_bit_identical_to_the_lectures_loop(splits):
    """The lecture's loop: per-step randint, p.grad = None, loss.backward(), p.data += -lr * p.grad."""
    g = gen()
    fast = models.MLP(splits.vocab_size, generator=g)
    result = train.train(fast, splits.Xtr, splits.Ytr, 30, g, lr=train.lr_schedule(0.1, 0.01, 20), ud_every=None)
    g = gen()
    slow = models.MLP(splits.vocab_size, generator=g)
    params = slow.parameters()
    for p in params:
        p.requires_grad = True
    lossi = []
    for i in range(30):
        ix = torch.randint(0, splits.Xtr.shape[0], (32,), generator=g)
        loss = torch.nn.functional.cross_entropy(slow(splits.Xtr[ix]), splits.Ytr[ix])
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data += -(0.1 if i < 20 else 0.01) * p.grad
        lossi.append(math.log10(loss.item()))
    assert result.lossi == lossi
    assert all(torch.equal(a, b) for a, b in zip(fast.parameters(), params))


def test_training_is_deterministic_and_lowers_the_loss(splits):
    runs = []
    for _ in range(2):
        g = gen()
        m = models.MLP(splits.vocab_size, generator=g)
        runs.append((m, train.train(m, splits.Xtr, splits.Ytr, 300, g, ud_every=50)))
    (m1, r1), (m2, r2) = runs
    assert r1.lossi == r2.lossi and torch.equal(m1.W1, m2.W1)
    assert len(r1.lossi) == 300 and r1.ud_steps == list(range(0, 300, 50))
    assert sum(r1.lossi[-50:]) / 50 < sum(r1.lossi[:50]) / 50
    assert all(math.isfinite(v) for row in r1.ud for v in row)
    assert len(r1.ud[0]) == len(r1.ud_names) == 5


def test_update_to_data_ratio_is_log10_of_step_over_data():
    p, g = torch.randn(100, 100), torch.randn(100, 100)
    [ud] = train.update_to_data([p], [g], 0.01)
    assert ud == pytest.approx(math.log10((0.01 * g).std().item() / p.std().item()), rel=1e-5)


def test_lr_schedule_decays_at_the_step():
    lr = train.lr_schedule(0.1, 0.01, decay_step=100)
    assert (lr(0), lr(99), lr(100), lr(10**6)) == (0.1, 0.1, 0.01, 0.01)


def test_nan_loss_stops_training_naming_the_step(splits):
    g = gen()
    m = models.MLP(splits.vocab_size, generator=g)
    poisoned = lambda i: float("nan") if i == 3 else 0.1  # the step-3 update turns every parameter NaN
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 4 of 500"):
        train.train(m, splits.Xtr, splits.Ytr, 500, g, lr=poisoned, ud_every=None)


def test_a_loss_above_the_bound_stops_like_nan():
    assert train.finite_loss(28.0, 0, 10, "run", "hint") == 28.0
    assert train.finite_loss(train.MAX_LOSS, 0, 10, "run", "hint") == train.MAX_LOSS
    with pytest.raises(TrainingDiverged) as e:
        train.finite_loss(2.5e7, 3, 10, "run", "lower the learning rate")
    assert str(e.value) == "run: loss is 2.5e+07 at step 3 of 10, above 1,000 (train.MAX_LOSS); lower the learning rate"


def test_an_experiment_meant_to_diverge_reports_where_instead_of_stopping_the_chapter(splits):
    g = gen()
    result = train.train(models.MLP(splits.vocab_size, generator=g), splits.Xtr, splits.Ytr, 500, g,
                         lr=lambda i: 1e6, ud_every=None, may_diverge=True)
    assert result.diverged_at == 1 and result.diverged_loss > train.MAX_LOSS
    assert len(result.lossi) == 1                           # the steps before the blow-up, nothing after
    g = gen()
    calm = train.train(models.MLP(splits.vocab_size, generator=g), splits.Xtr, splits.Ytr, 20, g,
                       ud_every=None, may_diverge=True)
    assert calm.diverged_at is None and calm.diverged_loss is None and len(calm.lossi) == 20


def test_an_exploding_learning_rate_stops_training_at_once(splits):
    from makemore_lib import backprop
    g = gen()
    with pytest.raises(TrainingDiverged, match=r"^training: loss is \S+ at step 1 of 500, above 1,000"):
        train.train(models.MLP(splits.vocab_size, generator=g), splits.Xtr, splits.Ytr, 500, g, lr=lambda i: 1e6)
    g = gen()
    with pytest.raises(TrainingDiverged, match=r"^manual backprop: loss is \S+ at step 1 of 500, above 1,000"):
        backprop.train_manual(backprop.BackpropMLP(splits.vocab_size, generator=g), splits.Xtr, splits.Ytr, 500, g,
                              lr=lambda i: 1e6)


def test_the_loss_bound_is_far_above_the_chapters_largest_losses(splits):
    """Chapter 2's "original" init (28 at step 0) and chapter 4's 1,000 steps at lr 1.0 without
    BatchNorm (a rough run whose peak depends on the CPU's kernels: 22 to 32 measured)."""
    g = gen()
    original = models.MLP(splits.vocab_size, n_hidden=200, init="original", generator=g)
    first = 10 ** train.train(original, splits.Xtr, splits.Ytr, 1, g, ud_every=None).lossi[0]
    g = gen()
    deep = models.deep_mlp(splits.vocab_size, batchnorm=False, generator=g)
    peak = 10 ** max(train.train(deep, splits.Xtr, splits.Ytr, 1000, g, lr=train.lr_schedule(1.0), ud_every=None).lossi)
    assert 20 < first < train.MAX_LOSS / 10 and 10 < peak < train.MAX_LOSS / 10


def test_evaluation_and_sampling_leave_mode_and_running_statistics_alone(splits):
    g = gen()
    for m in (models.MLP(splits.vocab_size, batchnorm=True, generator=g), models.deep_mlp(splits.vocab_size, generator=g)):
        train.train(m, splits.Xtr, splits.Ytr, 50, g, ud_every=None)
        state = [t.clone() for t in _running(m)]
        loss = train.split_loss(m, splits.Xdev, splits.Ydev)
        names = train.sample(m, splits.itos, 3, n=3, generator=gen(1))
        assert math.isfinite(loss) and len(names) == 3
        assert m.training
        assert all(torch.equal(a, b) for a, b in zip(state, _running(m)))


def _running(m):
    if isinstance(m, models.MLP):
        return [m.bnmean_running, m.bnstd_running]
    return [t for l in m.layers if hasattr(l, "running_mean") for t in (l.running_mean, l.running_var)]


def test_sampling_is_deterministic_for_a_seed(splits):
    g = gen()
    m = models.MLP(splits.vocab_size, generator=g)
    train.train(m, splits.Xtr, splits.Ytr, 200, g, ud_every=None)
    a = train.sample(m, splits.itos, 3, n=10, generator=gen(settings.SAMPLE_SEED))
    b = train.sample(m, splits.itos, 3, n=10, generator=gen(settings.SAMPLE_SEED))
    assert a == b and all(set(w) <= set("abcdefghijklmnopqrstuvwxyz") for w in a)


def test_calibration_sets_the_statistics_of_the_whole_training_set(splits):
    X = splits.Xtr[:5000]
    m = models.MLP(splits.vocab_size, batchnorm=True, generator=gen())
    m.calibrate(X)
    hpreact = m.C[X].view(len(X), -1) @ m.W1
    torch.testing.assert_close(m.bnmean_running, hpreact.mean(0))
    torch.testing.assert_close(m.bnstd_running, hpreact.std(0))
    deep = models.deep_mlp(splits.vocab_size, generator=gen())
    deep.calibrate(X)
    first_bn = deep.layers[3]
    x = deep.layers[0].weight[X].view(len(X), -1) @ deep.layers[2].weight
    torch.testing.assert_close(first_bn.running_mean, x.mean(0))
    torch.testing.assert_close(first_bn.running_var, x.var(0))
    assert deep.training


def test_a_paused_run_is_looked_at_after_exactly_those_steps_and_goes_on_unchanged(splits):
    """on_pause(t, model, result) after step t for every t in pause_at; the run's numbers are those of
    a run without pauses, and what a pause sees is what a run of t steps ends with."""
    def fresh(steps, **kw):
        g = torch.Generator().manual_seed(3)
        model = models.deep_mlp(splits.vocab_size, n_layers=2, n_hidden=16, generator=g)
        return model, train.train(model, splits.Xtr, splits.Ytr, steps, g, ud_every=1, **kw)

    seen = {}
    _, paused = fresh(30, pause_at=(5, 30), on_pause=lambda t, m, r: seen.__setitem__(t, (list(r.lossi), m.out.detach().clone())))
    _, plain = fresh(30)
    short_model, short = fresh(5)
    assert sorted(seen) == [5, 30] and paused.lossi == plain.lossi and paused.ud == plain.ud
    assert seen[5][0] == short.lossi and torch.equal(seen[5][1], short_model.out)
