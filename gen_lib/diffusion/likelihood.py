r"""ODE による厳密な対数尤度: 瞬間的な変数変換の公式 (Chen et al. 2018; Song et al. 2021, 式 (39))。

$\frac{dx}{dt} = v(x, t)$ で $x(0) = x$ を $t = 1$ まで運ぶと、

$$
\log p_0(x(0)) = \log p_1(x(1)) + \int_0^1 \nabla_x \cdot v(x(t), t)\, dt
$$

($p_t$ は ODE が運ぶ密度)。確率フロー ODE なら $p_t$ は拡散過程の周辺分布と同じなので、$p_1$ に
正確な終端の密度を使えば $\log p_0$ はデータの密度そのものになる。$v$ が学習したモデルなら、
これがモデルの対数尤度 $\log q_\theta(x)$ である。発散 $\nabla \cdot v$ は次の 2 通りで計算する:

- 厳密: ヤコビ行列の対角和 $\sum_i \partial v_i / \partial x_i$ (自動微分 $d$ 回。2 次元なら安い)
- Hutchinson の推定量: $\mathbb{E}_u[u^\top (\partial v / \partial x) u]$ ($u$ はラーデマッハー分布、
  $\mathbb{E}[u u^\top] = I$ なので平均は厳密な発散に等しい。逆伝播は 1 回)
"""

from __future__ import annotations

# --8<-- [start:imports]
import torch

from gen_lib.core.types import TimeScore, TorchScalarField, Velocity
from gen_lib.core.validation import (InputError, as_array, as_batch_tensor, as_float_tensor,
                                     as_matching_batches, as_tensor_points, check_callable,
                                     check_finite_result, check_seed, make_generator)
from gen_lib.diffusion.ode import solve_reference
from gen_lib.diffusion.sde import SDE, check_sde
# --8<-- [end:imports]

__all__ = ["divergence_exact", "divergence_hutchinson", "ode_log_likelihood", "sde_kl_bound"]


# --8<-- [start:divergence]
def divergence_exact(v: Velocity, x: torch.Tensor,
                     t: torch.Tensor) -> torch.Tensor:
    r"""$\nabla_x \cdot v = \sum_i \partial v_i / \partial x_i$ (自動微分)。"""
    check_callable(v, name="v", signature="(x, t)")
    x = as_batch_tensor(x, name="x")
    t = as_float_tensor(t, name="t", shape=x.shape[:1])
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t).flatten(1)  # (N, D)
        div = torch.zeros(x.shape[0], dtype=x.dtype)
        for i in range(out.shape[1]):  # 成分ごとに 1 回ずつ逆伝播する
            grad = torch.autograd.grad(out[:, i].sum(), x,
                                       retain_graph=True)[0]
            div = div + grad.flatten(1)[:, i]
    return div.detach()


def divergence_hutchinson(v: Velocity, x: torch.Tensor, t: torch.Tensor,
                          u: torch.Tensor) -> torch.Tensor:
    r"""Hutchinson の推定量 $u^\top (\partial v / \partial x) u$。形 (N,)。"""
    check_callable(v, name="v", signature="(x, t)")
    x, u = as_matching_batches(x=x, u=u)
    t = as_float_tensor(t, name="t", shape=x.shape[:1])
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)
        vjp = torch.autograd.grad((out * u).sum(), x)[0]  # u^T ∂v/∂x
    return check_finite_result((vjp * u).flatten(1).sum(dim=1).detach(), name="x or u")
# --8<-- [end:divergence]


# --8<-- [start:log_likelihood]
def ode_log_likelihood(v: Velocity, x, terminal_log_prob: TorchScalarField, *,
                       t_start: float = 0.0, t_end: float = 1.0,
                       estimator: str = "exact", seed=0, rtol: float = 1e-8,
                       atol: float = 1e-8) -> torch.Tensor:
    r"""瞬間的な変数変換の公式で対数尤度 $\log p_{t_0}(x)$ を解く:

    $\log p_{t_0}(x) = \log p_{t_1}(x(t_1))
    + \int_{t_0}^{t_1} \nabla \cdot v\, dt$。
    $t_0$ = t_start, $t_1$ = t_end。``terminal_log_prob`` は終端の密度
    $\log p_{t_1}$。``estimator`` は ``"exact"`` か ``"hutchinson"`` (積分のあいだ
    同じ $u$ を使う。$u$ は seed から)。ODE は参照ソルバーで解く。
    戻り値は形 (N,) [nats]。
    """
    if estimator not in ("exact", "hutchinson"):
        raise InputError(f"estimator must be 'exact' or 'hutchinson', "
                         f"got {estimator!r}")
    check_callable(terminal_log_prob, name="terminal_log_prob", signature="(x)")
    check_seed(seed)
    x = as_batch_tensor(x, name="x")
    if estimator == "exact":
        def div(state, t):
            return divergence_exact(v, state, t)
    else:
        u = torch.randint(0, 2, x.shape, generator=make_generator(seed))
        u = 2 * u.to(torch.float64) - 1  # ±1 を等確率で

        def div(state, t):
            return divergence_hutchinson(v, state, t, u)

    x_end, integral = solve_reference(v, x, t_start, t_end, rtol=rtol,
                                      atol=atol, extra=div)
    return check_finite_result(terminal_log_prob(x_end) + integral, name="x", source=x)
# --8<-- [end:log_likelihood]


# --8<-- [start:sde_kl_bound]
def sde_kl_bound(score: TimeScore, true_score: TimeScore, sde: SDE, x0,
                 times, seed=0) -> dict:
    r"""逆向き SDE のモデル $q^{\mathrm{SDE}}_\theta$ の KL の上界のうち、スコアの誤差の項
    (Song et al. 2021b, 定理 1):

    $\mathrm{KL}(p \,\|\, q^{\mathrm{SDE}}_\theta) \le \mathrm{KL}(p_1 \,\|\, \pi)
    + \frac12 \int_0^1 g(t)^2\, \mathbb{E}_{p_t}
    \|s_\theta(x_t, t) - \nabla \log p_t(x_t)\|^2 dt$

    ($\pi$ は事前分布)。times の各時刻で $x_t = m(t) x_0 + s(t) \varepsilon$ (同じ
    $x_0$ と $\varepsilon$) を作って期待値を平均で、積分を台形公式で求める。
    確率フロー ODE のモデルの KL はこの式では抑えられない (Lu et al. 2022)。
    戻り値: ``bound`` [nats] と、時刻ごとの被積分関数 ``integrand`` (len(times),)。
    """
    sde = check_sde(sde)
    check_callable(score, name="score", signature="(x, t)")
    check_callable(true_score, name="true_score", signature="(x, t)")
    x0 = as_tensor_points(x0, name="x0")
    t = as_array(times, name="times", ndim=1)
    if t.size < 2 or t.min() < 0 or t.max() > 1 or not (t[1:] > t[:-1]).all():
        raise InputError("times must be at least 2 increasing values in [0, 1], "
                         f"got {t.tolist()}")
    noise = torch.randn(x0.shape, generator=make_generator(seed),
                        dtype=torch.float64)
    integrand = []
    with torch.no_grad():
        for value in t:
            tt = torch.full((x0.shape[0],), float(value), dtype=torch.float64)
            m, std = sde.marginal(tt)
            x_t = m[:, None] * x0 + std[:, None] * noise  # x_t ~ p_t
            error = ((score(x_t, tt) - true_score(x_t, tt)) ** 2).sum(dim=1)
            integrand.append(0.5 * float(sde.diffusion(tt)[0]) ** 2
                             * error.mean().item())
    integrand = torch.tensor(integrand, dtype=torch.float64)
    bound = torch.trapezoid(integrand, torch.as_tensor(t)).item()
    return {"bound": bound, "integrand": integrand.numpy()}
# --8<-- [end:sde_kl_bound]
