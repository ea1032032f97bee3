"""Every manual backward function of makemore_lib/backprop.py against autograd, in float64 and on
shapes other than the chapter's; the comparison's verdicts; the training loop without autograd."""
import re

import pytest
import torch
import torch.nn.functional as F

from conftest import run_python
from makemore_lib import backprop, settings, train

pytestmark = pytest.mark.kernels   # run again under other CPU kernels by tests/test_kernel_sets.py

SHAPES = [(2, 3, 5), (7, 4, 1), (32, 30, 64), (50, 11, 27)]   # (n, fan_in, fan_out)
TIGHT = dict(rtol=1e-12, atol=1e-14)                           # float64: only rounding may differ


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def randn(*shape, g):
    return torch.randn(shape, generator=g, dtype=torch.float64)


def integers(*shape, g):
    """Small integers as float64: every product and sum of a few of them is exact."""
    return torch.randint(-4, 5, shape, generator=g).double()


def leaf(t):
    return t.clone().requires_grad_()


@pytest.mark.parametrize("n, _, vocab", SHAPES)
def test_cross_entropy_backward_is_softmax_minus_onehot_over_n(n, _, vocab):
    g = gen(n)
    logits = leaf(randn(n, vocab, g=g) * 3)
    Yb = torch.randint(0, vocab, (n,), generator=g)
    F.cross_entropy(logits, Yb).backward()
    dlogits = backprop.cross_entropy_backward(logits.detach(), Yb)
    assert dlogits.shape == logits.shape
    torch.testing.assert_close(dlogits, logits.grad, **TIGHT)


@pytest.mark.parametrize("n, fan_in, fan_out", SHAPES)
def test_linear_backward_is_exact_on_exactly_representable_numbers(n, fan_in, fan_out):
    g = gen(fan_in)
    x, W, b = leaf(integers(n, fan_in, g=g)), leaf(integers(fan_in, fan_out, g=g)), leaf(integers(fan_out, g=g))
    dout = integers(n, fan_out, g=g)
    (x @ W + b).backward(dout)
    dx, dW, db = backprop.linear_backward(dout, x.detach(), W.detach())
    assert torch.equal(dx, x.grad) and torch.equal(dW, W.grad) and torch.equal(db, b.grad)


@pytest.mark.parametrize("n, fan_in, fan_out", SHAPES)
def test_linear_backward_on_random_numbers(n, fan_in, fan_out):
    g = gen(fan_out)
    x, W, b = leaf(randn(n, fan_in, g=g)), leaf(randn(fan_in, fan_out, g=g)), leaf(randn(fan_out, g=g))
    dout = randn(n, fan_out, g=g)
    (x @ W + b).backward(dout)
    for mine, auto in zip(backprop.linear_backward(dout, x.detach(), W.detach()), (x.grad, W.grad, b.grad)):
        assert mine.shape == auto.shape
        torch.testing.assert_close(mine, auto, **TIGHT)


@pytest.mark.parametrize("n, _, width", SHAPES)
def test_tanh_backward_uses_one_minus_h_squared(n, _, width):
    g = gen(width)
    x = leaf(randn(n, width, g=g) * 2)
    h = torch.tanh(x)
    dh = randn(n, width, g=g)
    h.backward(dh)
    torch.testing.assert_close(backprop.tanh_backward(dh, h.detach()), x.grad, **TIGHT)


@pytest.mark.parametrize("n, _, width", SHAPES)
def test_batchnorm_backward_in_one_formula_matches_the_step_by_step_graph(n, _, width):
    g = gen(n + width)
    hprebn = leaf(randn(n, width, g=g) * 2 + 1)
    bngain, bnbias = leaf(1 + 0.1 * randn(1, width, g=g)), leaf(0.1 * randn(1, width, g=g))
    bnmean = hprebn.mean(0, keepdim=True)
    bnvar = ((hprebn - bnmean) ** 2).sum(0, keepdim=True) / (n - 1)
    bnvar_inv = (bnvar + backprop.BN_EPS) ** -0.5
    bnraw = (hprebn - bnmean) * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    dhpreact = randn(n, width, g=g)
    hpreact.backward(dhpreact)
    dhprebn, dbngain, dbnbias = backprop.batchnorm_backward(dhpreact, bnraw.detach(), bngain.detach(),
                                                            bnvar_inv.detach())
    assert dbngain.shape == bngain.shape == dbnbias.shape == (1, width)
    torch.testing.assert_close(dhprebn, hprebn.grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dbngain, bngain.grad, **TIGHT)
    torch.testing.assert_close(dbnbias, bnbias.grad, **TIGHT)


@pytest.mark.parametrize("n, block_size, n_embd", [(1, 1, 1), (4, 3, 2), (32, 3, 10), (100, 8, 5)])
def test_embedding_backward_adds_every_lookup_of_a_row_exactly(n, block_size, n_embd):
    g = gen(n * block_size)
    C = leaf(integers(6, n_embd, g=g))                    # 6 rows: most rows are picked several times
    Xb = torch.randint(0, 6, (n, block_size), generator=g)
    demb = integers(n, block_size, n_embd, g=g)
    C[Xb].backward(demb)
    dC = backprop.embedding_backward(demb, Xb, C.detach())
    assert torch.equal(dC, C.grad)
    assert torch.equal(backprop.embedding_backward(demb.view(n, -1), Xb, C.detach()), C.grad)


def test_the_embedding_backward_has_no_python_loop_over_the_batch():
    import inspect
    src = inspect.getsource(backprop.embedding_backward)
    assert "index_add_" in src and "for " not in src.split('"""')[-1]


def double_net(vocab_size=27, block_size=3, n_embd=10, n_hidden=64, seed=settings.SEED):
    net = backprop.BackpropMLP(vocab_size, block_size, n_embd, n_hidden, generator=gen(seed))
    for name in backprop.PARAM_NAMES:
        setattr(net, name, getattr(net, name).double())
    return net


@pytest.mark.parametrize("vocab_size, block_size, n_embd, n_hidden, n",
                         [(27, 3, 10, 64, 32), (27, 3, 10, 200, 32), (5, 2, 3, 7, 9), (40, 6, 4, 16, 3)])
def test_the_whole_backward_pass_matches_autograd(vocab_size, block_size, n_embd, n_hidden, n):
    net = double_net(vocab_size, block_size, n_embd, n_hidden)
    g = gen(n)
    Xb = torch.randint(0, vocab_size, (n, block_size), generator=g)
    Yb = torch.randint(0, vocab_size, (n,), generator=g)
    with torch.no_grad():
        cache = net.forward(Xb, Yb)
        grads = backprop.backward(Xb=Xb, Yb=Yb, **net.tensors(), **cache)
    expected = backprop.autograd_gradients(net.tensors(), Xb, Yb)
    for name, mine, auto, p in zip(backprop.PARAM_NAMES, grads, expected, net.parameters()):
        assert mine.shape == auto.shape == p.shape, name
        torch.testing.assert_close(mine, auto, rtol=1e-10, atol=1e-12, msg=name)
        assert backprop.compare_grad(name, mine, auto).ok


def test_the_network_draws_everything_from_its_generator_in_the_lectures_order():
    torch.manual_seed(123)
    before = torch.randn(3)
    torch.manual_seed(123)
    net = backprop.BackpropMLP(27, n_hidden=64, generator=gen(settings.SEED))
    assert torch.equal(torch.randn(3), before)          # the global generator was not touched
    g = gen(settings.SEED)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 64), generator=g) * (5 / 3) / (30**0.5)
    b1 = torch.randn(64, generator=g) * 0.1
    W2 = torch.randn((64, 27), generator=g) * 0.1
    b2 = torch.randn(27, generator=g) * 0.1
    bngain = torch.randn((1, 64), generator=g) * 0.1 + 1.0
    bnbias = torch.randn((1, 64), generator=g) * 0.1
    for name, t in zip(backprop.PARAM_NAMES, (C, W1, b1, W2, b2, bngain, bnbias)):
        assert torch.equal(getattr(net, name), t), name
    assert sum(p.nelement() for p in net.parameters()) == 4137   # the lecture's count


def test_the_forward_pass_computes_the_lectures_batchnorm_and_loss():
    net = double_net()
    g = gen(1)
    Xb, Yb = torch.randint(0, 27, (32, 3), generator=g), torch.randint(0, 27, (32,), generator=g)
    c = net.forward(Xb, Yb)
    hprebn = net.C[Xb].view(32, -1) @ net.W1 + net.b1
    bn = net.bngain * (hprebn - hprebn.mean(0, keepdim=True)) / torch.sqrt(hprebn.var(0, keepdim=True) + 1e-5) + net.bnbias
    torch.testing.assert_close(c["hpreact"], bn, **TIGHT)
    torch.testing.assert_close(c["loss"], F.cross_entropy(net(Xb), Yb), **TIGHT)


# --- the comparison ---------------------------------------------------------------------------

def test_compare_reports_a_broadcastable_shape_mismatch_as_a_failure():
    t = torch.randn(1, 64).requires_grad_()
    (t * torch.arange(64.0)).sum().backward()
    same_values_wrong_shape = t.grad.view(64)
    assert torch.all(same_values_wrong_shape == t.grad)            # the lecture's cmp would pass this
    check = backprop.compare("bnmeani", same_values_wrong_shape, t)
    assert check.status == "shape" and not check.ok
    assert check.row()[1] == "no: shape (64,), expected (1, 64)"


def test_compare_verdicts():
    t = torch.randn(4, 5).requires_grad_()
    (t**2).sum().backward()
    grad = t.grad.clone()
    exact = backprop.compare("t", grad.clone(), t)
    assert exact.status == "exact" and exact.maxdiff == 0
    near = backprop.compare("t", grad * (1 + 1e-6), t)      # a few float32 rounding steps
    assert near.status == "approximate" and 0 < near.maxdiff <= near.tol
    wrong = backprop.compare("t", grad + 0.1, t)
    assert wrong.status == "wrong" and not wrong.ok and wrong.row()[1:3] == ["no", "no"]
    assert backprop.compare("t", ..., t).row() == ["t", "not yet", "not yet", "", ""]
    assert backprop.compare("t", 3.0, t).status == "shape"
    assert backprop.compare("t", torch.full_like(grad, float("nan")), t).status == "wrong"
    checks = [backprop.compare("t", x, t) for x in (grad, grad * (1 + 1e-6), grad + 1, ...)]
    assert backprop.summary(checks) == "4 gradients: 1 exact, 1 approximate, 1 wrong, 1 not yet written"


def test_the_tolerance_is_rounding_steps_of_the_gradients_size():
    eps32, eps64 = torch.finfo(torch.float32).eps, torch.finfo(torch.float64).eps
    assert backprop.tolerance(torch.tensor([0.5, -2.0])) == pytest.approx(eps32 * (1 + 64 * 2.0))
    assert backprop.tolerance(torch.zeros(3)) == pytest.approx(eps32)
    assert backprop.tolerance(torch.tensor([-2.0], dtype=torch.float64)) == pytest.approx(eps64 * (1 + 128))
    g = torch.tensor([1000.0])
    assert backprop.compare_grad("big", g * (1 + 4 * eps32), g).status == "approximate"   # scales with the size
    assert backprop.compare_grad("small", g / 1000 + 1e-4, g / 1000).status == "wrong"


# --- the verdicts on the chapter's own network, whichever CPU kernels torch picks ---------------
# tests/test_kernel_sets.py runs these (and every test marked kernels) again with ATEN_CPU_CAPABILITY=default
# and =avx2, so a verdict that depends on the machine fails on this one.

def chapter_batch(n_embd=10, n_hidden=64, seed=settings.SEED):
    """The chapter's float32 network, its first minibatch, the forward cache and both gradients."""
    g = gen(seed)
    net = backprop.BackpropMLP(27, 3, n_embd, n_hidden, generator=g)
    Xb, Yb = torch.randint(0, 27, (32, 3), generator=g), torch.randint(0, 27, (32,), generator=g)
    with torch.no_grad():
        cache = net.forward(Xb, Yb)
    manual = dict(zip(backprop.PARAM_NAMES, backprop.backward(Xb=Xb, Yb=Yb, **net.tensors(), **cache)))
    auto = dict(zip(backprop.PARAM_NAMES, backprop.autograd_gradients(net.tensors(), Xb, Yb)))
    return net, Xb, Yb, cache, manual, auto


@pytest.mark.parametrize("seed", range(5))
def test_correct_float32_gradients_are_never_called_wrong(seed):
    *_, manual, auto = chapter_batch(seed=seed)
    for name in backprop.PARAM_NAMES:
        check = backprop.compare_grad(name, manual[name], auto[name])
        assert check.ok, (name, check)
        assert check.maxdiff <= check.tol / 4, (name, check.maxdiff, check.tol)   # with room to spare


def _mistakes(net, Xb, Yb, c, manual):
    """Realistic mistakes a learner makes in exercise 4, each as (parameter, wrong gradient)."""
    n, P = Xb.shape[0], net.tensors()
    dlogits = backprop.cross_entropy_backward(c["logits"], Yb)
    dh = dlogits @ P["W2"].T
    dhpreact = (1 - c["h"]**2) * dh
    yield "sign error in dW2", "W2", -manual["W2"]
    yield "dlogits without the / n", "W2", c["h"].T @ (dlogits * n)
    yield "softmax without the one-hot", "b2", F.softmax(c["logits"], 1).sum(0) / n
    yield "tanh' written as 1 - h", "bnbias", ((1 - c["h"]) * dh).sum(0, keepdim=True)
    dhprebn_no_mean = P["bngain"] * c["bnvar_inv"] * (dhpreact - c["bnraw"] * (dhpreact * c["bnraw"]).sum(0) / (n - 1))
    yield "BatchNorm backward missing the mean term", "W1", c["embcat"].T @ dhprebn_no_mean
    dhprebn_biased = P["bngain"] * c["bnvar_inv"] * (dhpreact - dhpreact.mean(0) - c["bnraw"] * (dhpreact * c["bnraw"]).mean(0))
    yield "BatchNorm backward with 1/n for 1/(n-1)", "W1", c["embcat"].T @ dhprebn_biased
    dhprebn = backprop.batchnorm_backward(dhpreact, c["bnraw"], P["bngain"], c["bnvar_inv"])[0]
    dembcat = dhprebn @ P["W1"].T                                   # (n, block_size * n_embd)
    dC_assigned = torch.zeros_like(P["C"])
    dC_assigned[Xb.reshape(-1)] = dembcat.reshape(-1, P["C"].shape[1])   # = where += belongs: repeated rows keep one
    yield "embedding rows assigned instead of accumulated", "C", dC_assigned


def test_every_real_mistake_is_called_wrong():
    net, Xb, Yb, cache, manual, auto = chapter_batch()
    with torch.no_grad():
        for what, name, wrong in _mistakes(net, Xb, Yb, cache, manual):
            check = backprop.compare_grad(name, wrong, auto[name])
            assert check.status == "wrong", (what, check)


def test_a_transposed_gradient_is_wrong_even_when_its_shape_fits():
    net, Xb, Yb, cache, manual, auto = chapter_batch(n_embd=10, n_hidden=30)   # W1 is (30, 30)
    assert manual["W1"].shape == (30, 30)
    assert backprop.compare_grad("W1", manual["W1"], auto["W1"]).ok
    assert backprop.compare_grad("W1", manual["W1"].T, auto["W1"]).status == "wrong"
    *_, manual64, auto64 = chapter_batch()                                      # W1 is (30, 64)
    transposed = backprop.compare_grad("W1", manual64["W1"].T, auto64["W1"])
    assert transposed.status == "shape" and "expected (30, 64)" in transposed.detail


def test_compare_needs_the_tensors_grad():
    with pytest.raises(ValueError, match="retain_grad"):
        backprop.compare("t", torch.zeros(2), torch.zeros(2))


# --- training without autograd --------------------------------------------------------------

def test_manual_training_follows_autograd_training_step_for_step(splits):
    steps = 60
    runs = {}
    for kind in ("autograd", "manual"):
        g = gen(settings.SEED)
        net = backprop.BackpropMLP(splits.vocab_size, n_hidden=200, generator=g)
        lr = train.lr_schedule(0.1, 0.01, 30)
        if kind == "autograd":
            res = train.train(net, splits.Xtr, splits.Ytr, steps, g, lr=lr, ud_every=None)
        else:
            res = backprop.train_manual(net, splits.Xtr, splits.Ytr, steps, g, lr=lr, check_steps=2)
        runs[kind] = (net, res)
    (na, ra), (nm, rm) = runs["autograd"], runs["manual"]
    assert rm.trained and rm.steps == steps and len(rm.lossi) == steps
    # the same minibatches and updates: the losses agree to float32 rounding, step after step
    torch.testing.assert_close(torch.tensor(rm.lossi), torch.tensor(ra.lossi), rtol=1e-4, atol=1e-5)
    for p, q in zip(nm.parameters(), na.parameters()):
        torch.testing.assert_close(p, q.detach(), rtol=1e-3, atol=1e-5)
    assert len(rm.checks) == 2 and all(c.ok for step in rm.checks for c in step)
    assert sum(rm.lossi[-10:]) < sum(rm.lossi[:10])


def test_manual_training_is_deterministic(splits):
    out = []
    for _ in range(2):
        g = gen(7)
        net = backprop.BackpropMLP(splits.vocab_size, generator=g)
        out.append((backprop.train_manual(net, splits.Xtr, splits.Ytr, 30, g).lossi, net.W1.clone()))
    assert out[0][0] == out[1][0] and torch.equal(out[0][1], out[1][1])


def test_an_unwritten_backward_trains_nothing_and_says_which_gradients_are_missing(splits):
    g = gen()
    net = backprop.BackpropMLP(splits.vocab_size, generator=g)
    before = [p.clone() for p in net.parameters()]

    def half_done(**kw):
        grads = backprop.backward(**kw)
        return grads[:3] + [..., ..., ..., ...]

    res = backprop.train_manual(net, splits.Xtr, splits.Ytr, 50, g, backward=half_done)
    assert not res.trained and res.steps == 0 and res.lossi == []
    assert res.waiting_for == ["W2", "b2", "bngain", "bnbias"]
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before))


def test_a_gradient_of_the_wrong_shape_stops_training_with_one_message(splits):
    g = gen()
    net = backprop.BackpropMLP(splits.vocab_size, generator=g)

    def flat_bngain(**kw):
        grads = backprop.backward(**kw)
        grads[5] = grads[5].view(-1)
        return grads

    with pytest.raises(backprop.GradientShapeError, match=r"dbngain has shape \(64,\) but bngain has shape \(1, 64\)"):
        backprop.train_manual(net, splits.Xtr, splits.Ytr, 5, g, backward=flat_bngain)


def test_calibrated_eval_mode_works_on_a_single_example(splits):
    g = gen()
    net = backprop.BackpropMLP(splits.vocab_size, generator=g)
    bnmean, bnvar = net.calibrate(splits.Xtr[:1000])
    assert bnmean.shape == bnvar.shape == (1, 64)
    net.eval()
    one = net(splits.Xtr[:1])
    many = net(splits.Xtr[:5])
    assert one.shape == (1, splits.vocab_size)
    torch.testing.assert_close(one, many[:1])          # eval mode does not depend on the batch
    assert net.training is False and train.split_loss(net, splits.Xdev, splits.Ydev) > 0


def test_the_benchmark_prints_its_ratio_last():
    r = run_python(["-m", "makemore_lib.bench", "--rounds", "1", "--steps", "20"], timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert re.fullmatch(r"manual/autograd speed ratio: \d+\.\d\d", lines[-1]), lines[-1]
    assert any("deep" in line and "steps/s" in line for line in lines)
