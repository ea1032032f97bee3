"""Facts the chapters rely on: parameter counts, draw order, the init fixes."""

import torch
import torch.nn.functional as F

from makemore_lib import lecture, models, settings
from makemore_lib.layers import BatchNorm1d, Linear


def gen():
    return torch.Generator().manual_seed(settings.SEED)


def n_params(model):
    return sum(p.nelement() for p in model.parameters())


def test_parameter_counts_are_the_lectures():
    assert n_params(models.MLP(27, generator=gen())) == 11_897
    assert n_params(models.MLP(27, batchnorm=True, generator=gen())) == 12_097
    assert n_params(models.deep_mlp(27, generator=gen())) == 47_024


def test_mlp_draws_its_parameters_in_the_lectures_order():
    g = gen()
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g) * (5 / 3) / (30**0.5)
    b1 = torch.randn(200, generator=g) * 0.01
    W2 = torch.randn((200, 27), generator=g) * 0.01
    m = models.MLP(27, init="kaiming", generator=gen())
    for ours, theirs in [(m.C, C), (m.W1, W1), (m.b1, b1), (m.W2, W2)]:
        assert torch.equal(ours, theirs)
    assert torch.equal(m.b2, torch.zeros(27))


def test_deep_mlp_draws_C_then_each_linear_and_scales_the_last_layer():
    g = gen()
    C = torch.randn((27, 10), generator=g)
    W0 = torch.randn((30, 100), generator=g) / 30**0.5
    m = models.deep_mlp(27, generator=gen())
    assert torch.equal(m.layers[0].weight, C) and torch.equal(m.layers[2].weight, W0)
    assert isinstance(m.layers[-1], BatchNorm1d) and torch.allclose(m.layers[-1].gamma, torch.full((27,), 0.1))
    nobn = models.deep_mlp(27, batchnorm=False, generator=gen())
    linears = [l for l in nobn.layers if isinstance(l, Linear)]
    assert torch.allclose(linears[0].weight, W0 * 5 / 3)
    assert not any(isinstance(l, BatchNorm1d) for l in nobn.layers)


def _first_batch_loss(model, splits):
    Xb, Yb = splits.Xtr[:512], splits.Ytr[:512]
    with torch.no_grad():
        return F.cross_entropy(model(Xb), Yb).item()


def test_initial_loss_is_near_uniform_after_the_softmax_fix(splits):
    original = _first_batch_loss(models.MLP(27, init="original", generator=gen()), splits)
    fixed = _first_batch_loss(models.MLP(27, init="softmax_fixed", generator=gen()), splits)
    assert original > 10  # confidently wrong: far above uniform
    assert abs(fixed - lecture.EXPECTED_INITIAL_LOSS) < 0.05


def test_tanh_saturation_drops_after_the_fix(splits):
    def saturated(init):
        m = models.MLP(27, init=init, generator=gen())
        with torch.no_grad():
            m(splits.Xtr[:1000])
        return (m.h.abs() > 0.99).float().mean().item()
    before, after, kaiming = saturated("softmax_fixed"), saturated("tanh_fixed"), saturated("kaiming")
    assert before > 0.5
    assert after < 0.05
    assert kaiming < before / 4  # gain 5/3 keeps ~10% near the tails, far from the original's majority


def test_mlp_batchnorm_normalises_in_training_mode_and_uses_running_stats_in_eval():
    m = models.MLP(27, batchnorm=True, generator=gen())
    X = torch.randint(0, 27, (64, 3), generator=gen())
    with torch.no_grad():
        m(X)
    z = torch.atanh(m.h.clamp(-0.999999, 0.999999))  # hpreact after BN, gain 1 and bias 0
    assert z.mean(0).abs().max() < 1e-3
    assert (m.hpreact.std(0) - 1).abs().max() < 1e-4
    running = m.bnmean_running.clone()
    m.eval()
    with torch.no_grad():
        m(X[:1])
    assert torch.equal(m.bnmean_running, running) and m.bnmean_running.shape == (200,)


def test_deep_mlp_norm_and_activation_options_keep_the_draws():
    from makemore_lib.layers import LayerNorm, LeakyReLU, ReLU, Tanh
    base = models.deep_mlp(27, generator=gen())
    explicit = models.deep_mlp(27, norm="batch", activation=Tanh, generator=gen())
    ln = models.deep_mlp(27, norm="layer", generator=gen())
    relu = models.deep_mlp(27, activation=ReLU, generator=gen())
    none = models.deep_mlp(27, norm=None, activation=LeakyReLU, gain=2**0.5, generator=gen())
    old_none = models.deep_mlp(27, batchnorm=False, gain=2**0.5, generator=gen())
    assert [type(l) for l in explicit.layers] == [type(l) for l in base.layers]
    for m in (explicit, ln, relu):
        assert all(torch.equal(a, b) for a, b in zip(m.parameters(), base.parameters(), strict=True))
    assert n_params(ln) == 47_024 and sum(isinstance(l, LayerNorm) for l in ln.layers) == 6
    assert not any(isinstance(l, BatchNorm1d) for l in ln.layers)
    assert torch.allclose(ln.layers[-1].gamma, torch.full((27,), 0.1))
    assert sum(isinstance(l, ReLU) for l in relu.layers) == 5 and not any(isinstance(l, Tanh) for l in relu.layers)
    assert all(torch.equal(a, b) for a, b in zip(none.parameters(), old_none.parameters(), strict=True))
    assert sum(isinstance(l, LeakyReLU) for l in none.layers) == 5


def test_deep_mlp_refuses_an_unknown_norm():
    import pytest
    with pytest.raises(ValueError, match='"batch", "layer" or None'):
        models.deep_mlp(27, norm="group", generator=gen())


def test_folded_mlp_gives_the_eval_logits_of_the_batchnorm_mlp_in_float64():
    m = models.MLP(27, batchnorm=True, generator=gen())
    g = gen()
    X = torch.randint(0, 27, (256, 3), generator=g)
    with torch.no_grad():
        for _ in range(20):
            m(X[torch.randint(0, 256, (32,), generator=g)])   # running statistics move away from 0 and 1
    m.bngain, m.bnbias = torch.rand(200, generator=g) + 0.5, torch.randn(200, generator=g)
    for name in ("C", "W1", "W2", "b2", "bngain", "bnbias", "bnmean_running", "bnstd_running"):
        setattr(m, name, getattr(m, name).double())
    m.eval()
    plain = m.folded()
    assert [n for n, _ in plain.named_parameters()] == ["C", "W1", "b1", "W2", "b2"]
    torch.testing.assert_close(plain(X), m(X), rtol=0, atol=1e-12)
    assert m.batchnorm and m.bngain.shape == (200,)   # the BatchNorm model itself is unchanged


def test_folding_an_mlp_without_batchnorm_is_refused():
    import pytest
    with pytest.raises(ValueError, match="batchnorm=True"):
        models.MLP(27, generator=gen()).folded()
