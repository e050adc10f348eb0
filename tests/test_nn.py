"""gen_lib.core.nn: シードで決まる MLP と、1 つの学習ループ (ミニバッチ、非有限の損失、コールバック、敵対者)。"""

from __future__ import annotations

import pytest
import torch

from gen_lib.core.nn import make_mlp, minibatch, single_thread, train


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
    """y = 2x - 1 の2 乗誤差を下げきる。学習後はスレッド数が元に戻る。"""
    threads = torch.get_num_threads()
    x = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    y = 2 * x - 1
    line = torch.nn.Linear(1, 1, dtype=torch.float64)
    history = train(line, lambda step: torch.mean((line(x) - y) ** 2), steps=500, lr=0.05)["loss"]
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
        train(torch.nn.Linear(1, 1), lambda step: p.sum(), steps=0, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        train(torch.nn.Linear(1, 1), lambda step: p.sum(), steps=1, lr=0)
    with pytest.raises(ValueError, match="non-finite"):
        train(torch.nn.Linear(1, 1), lambda step: p.sum() + float("nan"), steps=3, lr=0.1)


def test_minibatches_callback_and_cosine_decay():
    """ミニバッチの SGD でも直線に収束し、callback は 0..K で呼ばれ、余弦で学習率が 0 まで下がる。"""
    generator = torch.Generator().manual_seed(0)
    x = torch.linspace(-1, 1, 200, dtype=torch.float64)[:, None]
    data = torch.cat([x, 3 * x + 0.5], dim=1)  # (N, 2): 入力と目標
    line = torch.nn.Linear(1, 1, dtype=torch.float64)
    with torch.no_grad():  # 大域の乱数に依らない初期値 (テストの順序で結果が変わらない)
        line.weight.zero_()
        line.bias.zero_()
    seen = []

    def loss_fn(step):
        batch = minibatch(data, 32, generator)  # (32, 2)
        return torch.mean((line(batch[:, :1]) - batch[:, 1:]) ** 2)

    history = train(line, loss_fn, steps=400, lr=0.05, cosine_decay=True, callback=seen.append)["loss"]
    assert seen == list(range(401)) and len(history) == 400
    assert line.weight.item() == pytest.approx(3.0, abs=1e-3) and line.bias.item() == pytest.approx(0.5, abs=1e-3)


def test_adversary_is_updated_first_each_step():
    """敵対者の損失は本体より先に計算される (GAN の識別器 → 生成器の順)。"""
    order = []
    a, b = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)

    def loss(name, module):
        return lambda step: (order.append((step, name)), module.weight.sum() ** 2)[1]

    history = train(a, loss("main", a), steps=2, lr=0.1, adversary=(b, loss("adv", b)))
    assert order == [(0, "adv"), (0, "main"), (1, "adv"), (1, "main")]
    assert set(history) == {"loss", "adversary_loss"} and len(history["adversary_loss"]) == 2
