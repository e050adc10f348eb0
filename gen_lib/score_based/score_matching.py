r"""スコアマッチング: 正規化定数を使わずにスコア $s_\theta(x) \approx \nabla_x \log p(x)$ を学習する目的関数。

- 明示的スコアマッチング (真のスコアが必要):
  $J_{\mathrm{ESM}}(\theta) = \tfrac12 \mathbb{E}_{p(x)}\big[\|s_\theta(x) - \nabla_x \log p(x)\|^2\big]$
- 暗黙的スコアマッチング (Hyvärinen 2005。データだけで計算できる):
  $J_{\mathrm{ISM}}(\theta) = \mathbb{E}_{p(x)}\big[\operatorname{tr}(\nabla_x s_\theta(x)) + \tfrac12 \|s_\theta(x)\|^2\big]$
- スライス化スコアマッチング (Song, Garg, Shi & Ermon 2019。ランダムな方向 $v$ への射影):
  $J_{\mathrm{SSM}}(\theta) = \mathbb{E}_{p(x)}\mathbb{E}_{v}\big[v^\top \nabla_x s_\theta(x)\, v + \tfrac12 (v^\top s_\theta(x))^2\big]$

部分積分により $J_{\mathrm{ESM}}(\theta) = J_{\mathrm{ISM}}(\theta) + C$ ($C = \tfrac12 \mathbb{E}_p\|\nabla_x \log p\|^2$ は
$\theta$ によらない)。期待値はデータ $D = \{x^1, \dots, x^N\}$ (形 ``(N, d)``) のサンプル平均で置き換える。

スコアモデル ``score_model`` は「形 (N, d) のテンソル → 形 (N, d) のテンソル」の関数 (例: ``make_mlp(d, d)``)。
各点を独立に処理すること (バッチ正規化のように点どうしを混ぜるモデルでは、下のヤコビアンの計算が成り立たない)。
損失はスカラーのテンソルで、計算グラフを保つので ``loss.backward()`` で $\theta$ について微分できる。
"""

from __future__ import annotations

# --8<-- [start:imports]
import torch

from gen_lib.core.types import ScoreModel
from gen_lib.core.validation import (InputError, as_tensor_points, check_bool, check_callable, check_count,
                                     check_finite_result, make_generator)
# --8<-- [end:imports]

__all__ = ["evaluate_score", "explicit_score_matching_loss", "jacobian_trace", "implicit_score_matching_loss",
           "sliced_score_matching_loss"]

# --8<-- [start:helpers]


def _check_model(score_model) -> None:
    check_callable(score_model, name="score_model", signature="(x) -> (N, d)")


def evaluate_score(score_model: ScoreModel, x: torch.Tensor) -> torch.Tensor:
    r"""$s_\theta(x)$ を計算し、形が入力と同じ (N, d) で有限であることを確かめる。"""
    _check_model(score_model)
    x = as_tensor_points(x, name="x")
    s = score_model(x)
    if not isinstance(s, torch.Tensor) or s.shape != x.shape:
        shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise InputError(f"score_model must return a tensor of shape {tuple(x.shape)}, got {shape}")
    if not torch.isfinite(s).all():
        raise InputError(f"score_model returned {int((~torch.isfinite(s)).sum())} non-finite value(s)")
    return s
# --8<-- [end:helpers]


# --8<-- [start:explicit]
def explicit_score_matching_loss(score_model: ScoreModel, x, true_score) -> torch.Tensor:
    r"""$\hat J_{\mathrm{ESM}} = \frac1N \sum_n \tfrac12 \|s_\theta(x^n) - \nabla_x \log p(x^n)\|^2$。

    ``true_score`` は真のスコア $\nabla_x \log p(x^n)$ を並べた形 (N, d) の配列
    (ふつうは未知。ガウス混合なら ``GaussianMixture.score`` で厳密に分かる)。
    """
    _check_model(score_model)
    x = as_tensor_points(x)
    target = torch.as_tensor(as_tensor_points(true_score, name="true_score"), dtype=x.dtype)
    if target.shape != x.shape:
        raise InputError(f"true_score must have the shape of x {tuple(x.shape)}, got {tuple(target.shape)}")
    s = evaluate_score(score_model, x)
    return check_finite_result(0.5 * ((s - target) ** 2).sum(dim=1).mean(), name="x or true_score")
# --8<-- [end:explicit]


# --8<-- [start:implicit]
def jacobian_trace(score_model: ScoreModel, x, *, create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$\operatorname{tr}(\nabla_x s_\theta(x)) = \sum_{i=1}^d \partial s_{\theta,i}(x) / \partial x_i$ を厳密に計算する。

    成分 $i$ ごとに $\sum_n s_{\theta,i}(x^n)$ を $x$ で微分し (逆伝播 1 回)、その $i$ 成分を取る。
    点どうしは独立なので $\partial s_{\theta,i}(x^n) / \partial x^n_i$ が得られる。逆伝播は $d$ 回必要である。
    戻り値は (トレース 形 (N,), スコア $s_\theta(x)$ 形 (N, d))。
    """
    _check_model(score_model)
    create_graph = check_bool(create_graph, name="create_graph")
    x = as_tensor_points(x).detach().requires_grad_(True)
    s = evaluate_score(score_model, x)
    trace = torch.zeros(x.shape[0], dtype=s.dtype)
    if not s.requires_grad:  # x によらない出力: ヤコビアンは 0
        return trace, s
    for i in range(x.shape[1]):  # d 回の逆伝播
        (grad_i,) = torch.autograd.grad(s[:, i].sum(), x, create_graph=create_graph, retain_graph=True,
                                        allow_unused=True)
        if grad_i is not None:
            trace = trace + grad_i[:, i]
    return trace, s


def implicit_score_matching_loss(score_model: ScoreModel, x) -> torch.Tensor:
    r"""$\hat J_{\mathrm{ISM}} = \frac1N \sum_n \big[\operatorname{tr}(\nabla_x s_\theta(x^n)) + \tfrac12 \|s_\theta(x^n)\|^2\big]$。"""
    trace, s = jacobian_trace(score_model, x)
    return (trace + 0.5 * (s**2).sum(dim=1)).mean()
# --8<-- [end:implicit]


# --8<-- [start:sliced]
def sliced_score_matching_loss(score_model: ScoreModel, x, n_projections: int, generator, *,
                               variance_reduced: bool = True) -> torch.Tensor:
    r"""スライス化スコアマッチング (Song, Garg, Shi & Ermon 2019)。射影方向は $v \sim \mathcal{N}(0, I)$。

    $v^\top \nabla_x s_\theta(x)\, v$ は $\nabla_x (v^\top s_\theta(x))$ と $v$ の内積なので、
    射影 1 本につき逆伝播 1 回で済む ($d$ によらない)。点 $x^n$ ごとに $M$ = n_projections 本の $v_{nm}$ を
    独立に引き (点どうしで方向を共有しない)、$x$ を $M$ 回複製して 1 回の逆伝播でまとめて計算する。

    - ``variance_reduced=True`` (既定、SSM-VR): $\frac{1}{NM}\sum_{n,m} \big[v_{nm}^\top \nabla_x s_\theta(x^n) v_{nm}
      + \tfrac12 \|s_\theta(x^n)\|^2\big]$ ($\mathbb{E}_v[(v^\top s)^2] = \|s\|^2$ を厳密に計算した形)
    - ``variance_reduced=False``: $\frac{1}{NM}\sum_{n,m} \big[v_{nm}^\top \nabla_x s_\theta(x^n) v_{nm}
      + \tfrac12 (v_{nm}^\top s_\theta(x^n))^2\big]$

    $\mathbb{E}[v v^\top] = I$ なので、どちらも $v$ について平均すると $\hat J_{\mathrm{ISM}}$ に一致する (不偏推定量)。
    """
    _check_model(score_model)
    variance_reduced = check_bool(variance_reduced, name="variance_reduced")
    x = as_tensor_points(x)
    n_projections = check_count(n_projections, name="n_projections")
    gen = make_generator(generator, name="generator")
    n, d = x.shape
    v = torch.randn((n_projections, n, d), generator=gen, dtype=x.dtype)
    x_rep = x.detach().unsqueeze(0).expand(n_projections, n, d).reshape(-1, d).requires_grad_(True)
    v = v.reshape(-1, d)
    s = evaluate_score(score_model, x_rep)  # (M N, d)
    vs = (v * s).sum(dim=1)  # v^T s_θ(x)
    vjv = torch.zeros_like(vs)
    if vs.requires_grad:  # x によらない出力ならヤコビアンは 0
        (grad_vs,) = torch.autograd.grad(vs.sum(), x_rep, create_graph=True, allow_unused=True)
        if grad_vs is not None:  # ∇_x (v^T s_θ) = (∇_x s_θ)^T v
            vjv = (grad_vs * v).sum(dim=1)  # v^T ∇_x s_θ(x) v
    second = (s**2).sum(dim=1) if variance_reduced else vs**2
    return (vjv + 0.5 * second).mean()
# --8<-- [end:sliced]
