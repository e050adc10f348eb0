"""gen_lib.mlp_training: シードで決まる MLP と、フルバッチ Adam の学習ループ。"""

from __future__ import annotations

import pytest
import torch

from gen_lib.mlp_training import make_mlp, single_thread, train_full_batch


def test_mlp_shape_and_dtype():
    mlp = make_mlp(2, 5, hidden=7, n_hidden_layers=3, seed=0)
    out = mlp(torch.zeros(4, 2, dtype=torch.float64))
    assert out.shape == (4, 5) and out.dtype == torch.float64
    assert sum(isinstance(m, torch.nn.Tanh) for m in mlp) == 3


def test_same_seed_same_weights_and_global_rng_untouched():
    state = torch.get_rng_state()
    a, b, c = make_mlp(1, 1, seed=3), make_mlp(1, 1, seed=3), make_mlp(1, 1, seed=4)
    assert torch.equal(torch.get_rng_state(), state)  # 大域の乱数状態を変えない
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_full_batch_adam_fits_a_line_and_restores_threads():
    """y = 2x - 1 の二乗誤差を下げきる。学習後はスレッド数が元に戻る。"""
    threads = torch.get_num_threads()
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    y = 2 * x - 1
    line = torch.nn.Linear(1, 1, dtype=torch.float64)
    history = train_full_batch(line, lambda: torch.mean((line(x) - y) ** 2), steps=500, lr=0.05)
    assert len(history) == 500 and history[-1] < 1e-6 < history[0]
    assert line.weight.item() == pytest.approx(2.0, abs=1e-3) and line.bias.item() == pytest.approx(-1.0, abs=1e-3)
    assert torch.get_num_threads() == threads


def test_single_thread_restores_on_error():
    threads = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with single_thread():
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == threads


def test_bad_inputs():
    with pytest.raises(ValueError, match="in_dim"):
        make_mlp(0, 1)
    with pytest.raises(ValueError, match="hidden"):
        make_mlp(1, 1, hidden=2.5)
    with pytest.raises(ValueError, match="n_hidden_layers"):
        make_mlp(1, 1, n_hidden_layers=0)
    with pytest.raises(ValueError, match="seed"):
        make_mlp(1, 1, seed=-1)
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="steps"):
        train_full_batch(torch.nn.Linear(1, 1), lambda: p.sum(), steps=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        train_full_batch(torch.nn.Linear(1, 1), lambda: p.sum(), steps=1, lr=0)
    with pytest.raises(ValueError, match="non-finite"):
        train_full_batch(torch.nn.Linear(1, 1), lambda: p.sum() + float("nan"), steps=3, lr=0.1)
