"""The from-scratch layers against torch.nn, in float64 where exactness matters."""
import pytest
import torch

from makemore_lib.errors import BatchTooSmall
from makemore_lib.layers import BatchNorm1d, Embedding, Flatten, Linear, Sequential, Tanh


def test_linear_matches_torch_linear():
    g = torch.Generator().manual_seed(0)
    lin = Linear(30, 20, generator=g)
    with torch.no_grad():
        lin.bias += torch.randn(20, generator=g)
    ref = torch.nn.Linear(30, 20)
    with torch.no_grad():
        ref.weight.copy_(lin.weight.T)
        ref.bias.copy_(lin.bias)
    x = torch.randn(8, 30, generator=g)
    torch.testing.assert_close(lin(x), ref(x))
    assert Linear(30, 20, bias=False).parameters().__len__() == 1


def test_linear_init_is_scaled_by_fan_in_and_drawn_from_the_callers_generator():
    w1 = Linear(400, 300, generator=torch.Generator().manual_seed(1)).weight
    w2 = Linear(400, 300, generator=torch.Generator().manual_seed(1)).weight
    assert torch.equal(w1, w2)
    assert abs(w1.std().item() - 400**-0.5) < 0.002


def _bn_pair(dim, momentum=0.1):
    ours = BatchNorm1d(dim, momentum=momentum)
    ref = torch.nn.BatchNorm1d(dim, momentum=momentum, dtype=torch.float64)
    g = torch.Generator().manual_seed(3)
    ours.gamma = 1 + 0.1 * torch.randn(dim, generator=g, dtype=torch.float64)
    ours.beta = 0.1 * torch.randn(dim, generator=g, dtype=torch.float64)
    ours.running_mean = ours.running_mean.double()
    ours.running_var = ours.running_var.double()
    with torch.no_grad():
        ref.weight.copy_(ours.gamma)
        ref.bias.copy_(ours.beta)
    return ours, ref


def test_batchnorm_matches_torch_in_train_and_eval_mode_including_running_statistics():
    ours, ref = _bn_pair(7)
    g = torch.Generator().manual_seed(4)
    for _ in range(5):  # several updates of the running statistics
        x = 3 + 2 * torch.randn(16, 7, generator=g, dtype=torch.float64)
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.running_var, ref.running_var, rtol=0, atol=1e-12)
    assert ours.running_mean.shape == ours.running_var.shape == (7,)
    ours.training = False
    ref.eval()
    x = torch.randn(5, 7, generator=g, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-12)


@pytest.mark.kernels
def test_batchnorm_gradients_match_torch():
    ours, ref = _bn_pair(5)
    x = torch.randn(12, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours.gamma.requires_grad_()
    (ours(xa) ** 3).sum().backward()
    (ref(xb) ** 3).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.gamma.grad, ref.weight.grad, rtol=0, atol=1e-10)


def test_batchnorm_training_output_is_normalised_per_feature():
    bn = BatchNorm1d(50)
    x = 5 + 3 * torch.randn(64, 50, generator=torch.Generator().manual_seed(6))
    y = bn(x)
    assert y.mean(0).abs().max() < 1e-5
    assert (y.std(0, unbiased=False) - 1).abs().max() < 1e-3


def test_batchnorm_eval_works_on_one_example_and_does_not_touch_running_stats():
    bn = BatchNorm1d(4)
    bn(torch.randn(10, 4))
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    bn.training = False
    out = bn(torch.randn(1, 4))
    assert out.shape == (1, 4) and torch.isfinite(out).all()
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    bn.training = True
    with pytest.raises(BatchTooSmall, match="eval"):
        bn(torch.randn(1, 4))


def test_batchnorm_running_stats_keep_their_shape_over_many_updates():
    bn = BatchNorm1d(6)
    for _ in range(100):
        bn(torch.randn(32, 6))
    assert bn.running_mean.shape == (6,) and bn.running_var.shape == (6,)
    assert torch.isfinite(bn.running_var).all()


def test_calibrate_uses_the_exact_mean_and_unbiased_variance():
    bn = BatchNorm1d(3)
    x = torch.randn(100, 3, dtype=torch.float64)
    bn.calibrate(x)
    torch.testing.assert_close(bn.running_mean, x.mean(0))
    torch.testing.assert_close(bn.running_var, x.var(0))


def test_embedding_flatten_tanh_sequential():
    g = torch.Generator().manual_seed(7)
    emb = Embedding(27, 10, generator=g)
    model = Sequential([emb, Flatten(), Linear(30, 8, generator=g), BatchNorm1d(8), Tanh()])
    X = torch.randint(0, 27, (4, 3), generator=g)
    out = model(X)
    assert out.shape == (4, 8)
    torch.testing.assert_close(model.layers[1].out, emb.weight[X].view(4, 30))
    torch.testing.assert_close(out, torch.tanh(model.layers[3].out))
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.Embedding.weight", "2.Linear.weight", "2.Linear.bias", "3.BatchNorm1d.gamma", "3.BatchNorm1d.beta"]
    assert all(a is b for (_, a), b in zip(model.named_parameters(), model.parameters(), strict=True))
    model.eval()
    assert not model.layers[3].training and not model.training
    model.train()
    assert model.training


def test_layernorm_matches_torch_layernorm_in_float64_values_and_gradients():
    from makemore_lib.layers import LayerNorm
    g = torch.Generator().manual_seed(8)
    ours = LayerNorm(9)
    ours.gamma = (1 + 0.1 * torch.randn(9, generator=g, dtype=torch.float64)).requires_grad_()
    ours.beta = (0.1 * torch.randn(9, generator=g, dtype=torch.float64)).requires_grad_()
    ref = torch.nn.LayerNorm(9, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(ours.gamma)
        ref.bias.copy_(ours.beta)
    x = 2 + 3 * torch.randn(6, 9, generator=g, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ours(xa), ref(xb)
    torch.testing.assert_close(ya, yb, rtol=0, atol=1e-12)
    (ya ** 3).sum().backward()
    (yb ** 3).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.gamma.grad, ref.weight.grad, rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.beta.grad, ref.bias.grad, rtol=0, atol=1e-10)


def test_layernorm_treats_each_example_alone_so_batch_size_one_gives_the_same_rows():
    from makemore_lib.layers import LayerNorm
    ln = LayerNorm(5)
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    rows = torch.cat([ln(x[i:i + 1]) for i in range(8)])
    torch.testing.assert_close(ln(x), rows, rtol=0, atol=1e-15)
    assert not hasattr(ln, "running_mean") and not hasattr(ln, "training")
    assert [id(p) for p in ln.parameters()] == [id(ln.gamma), id(ln.beta)]


def test_relu_and_leaky_relu_match_torch():
    from makemore_lib.layers import LeakyReLU, ReLU
    x = torch.randn(50, generator=torch.Generator().manual_seed(10), dtype=torch.float64)
    assert torch.equal(ReLU()(x), torch.nn.ReLU()(x))
    assert torch.equal(LeakyReLU()(x), torch.nn.LeakyReLU()(x))
    assert torch.equal(LeakyReLU(0.2)(x), torch.nn.LeakyReLU(0.2)(x))
    assert ReLU().parameters() == [] and LeakyReLU().parameters() == []
    xa = (-1 - x.abs()).requires_grad_()       # all negative: a ReLU passes no gradient, a leaky one 0.01
    ReLU()(xa).sum().backward()
    assert torch.equal(xa.grad, torch.zeros_like(x))
    xa.grad = None
    LeakyReLU()(xa).sum().backward()
    assert torch.equal(xa.grad, torch.full_like(x, 0.01))


def _trained_pair(bias: bool):
    """A Linear(30, 20) and a BatchNorm1d(20) after a few training batches, gamma/beta moved; float64."""
    g = torch.Generator().manual_seed(1)
    lin, bn = Linear(30, 20, bias=bias, generator=g), BatchNorm1d(20)
    scale = torch.ones(20)
    scale[0] = 1e-3                                  # a feature with tiny variance: eps matters there
    for _ in range(5):
        bn(lin(torch.randn(32, 30, generator=g) * 3 + 1) * scale)
    bn.gamma, bn.beta = torch.rand(20, generator=g) + 0.5, torch.randn(20, generator=g)
    if bias:
        lin.bias = torch.randn(20, generator=g)
    lin.weight = lin.weight * scale
    for t in (lin, bn):
        for name in ("weight", "bias", "gamma", "beta", "running_mean", "running_var"):
            if getattr(t, name, None) is not None:
                setattr(t, name, getattr(t, name).double())
    bn.training = False
    return lin, bn, torch.randn(64, 30, generator=g).double() * 3 + 1


@pytest.mark.parametrize("bias", [False, True])
def test_fold_gives_one_linear_equal_to_linear_then_batchnorm_in_eval_mode(bias):
    from makemore_lib.layers import fold
    lin, bn, x = _trained_pair(bias)
    folded = fold(lin, bn)
    assert folded.weight.shape == (30, 20) and folded.bias.shape == (20,)
    torch.testing.assert_close(folded(x), bn(lin(x)), rtol=0, atol=1e-12)
    # eps is part of the fold: leaving it out is visible on the feature with tiny variance
    lin_no_eps = fold(lin, BatchNorm1d(20, eps=0.0))
    assert not torch.allclose(lin_no_eps(x), bn(lin(x)))


def test_sigmoid_elu_and_identity_match_torch_and_their_slopes_never_vanish_where_said():
    from makemore_lib.layers import ELU, Identity, Sigmoid
    x = torch.randn(50, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    assert torch.equal(Sigmoid()(x), torch.sigmoid(x)) and torch.equal(Identity()(x), x)
    assert torch.equal(ELU()(x), torch.nn.ELU()(x)) and torch.equal(ELU(0.5)(x), torch.nn.ELU(0.5)(x))
    xa = (-1 - x.abs()).requires_grad_()       # all negative: an ELU still passes alpha * exp(x) > 0
    ELU()(xa).sum().backward()
    torch.testing.assert_close(xa.grad, xa.detach().exp(), rtol=0, atol=1e-15)
    assert (xa.grad > 0).all()


def test_a_deep_net_folds_into_the_same_network_without_batchnorm():
    from makemore_lib import models
    from makemore_lib.layers import BatchNorm1d
    g = torch.Generator().manual_seed(12)
    net = models.deep_mlp(27, n_layers=3, generator=g)
    for layer in net.layers:
        if isinstance(layer, BatchNorm1d):   # statistics and gamma/beta away from their start
            layer.running_mean = torch.randn(layer.gamma.shape, generator=g)
            layer.running_var = torch.rand(layer.gamma.shape, generator=g) + 0.5
            layer.gamma = torch.rand(layer.gamma.shape, generator=g) + 0.5
            layer.beta = torch.randn(layer.gamma.shape, generator=g)
    X = torch.randint(0, 27, (64, 3), generator=g)
    plain = net.folded()
    assert not any(isinstance(l, BatchNorm1d) for l in plain.layers)
    assert len(plain.layers) == len(net.layers) - 4          # 3 hidden + the output BatchNorm folded
    with torch.no_grad():
        torch.testing.assert_close(plain(X), net.eval()(X), rtol=1e-5, atol=1e-5)
