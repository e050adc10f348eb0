"""モードの重みの推定 (docs/ch2/langevin.md): E_p[r_k] = π_k、厳密なサンプルでの精度、悪い入力。"""

from __future__ import annotations

import numpy as np
import pytest

from gen_lib.distributions.gaussian_mixture import asymmetric_mixture, isotropic_mixture, ring_of_gaussians
from gen_lib.score_based.langevin import separated_modes_mixture
from gen_lib.metrics.mode_weights import estimate_mode_weights, mode_weight_error


def test_expected_responsibility_is_the_weight_by_quadrature():
    # ∫ r_k(x) p(x) dx = ∫ π_k N(x; μ_k, σ_k²) dx = π_k (重なりの大きい 1 次元の混合で、台形則)
    mixture = isotropic_mixture([[-1.0], [0.3], [1.2]], std=0.7, weights=[0.5, 0.2, 0.3])
    x = np.linspace(-9.0, 9.0, 20001)[:, None]
    p = np.exp(mixture.log_prob(x))
    integrand = mixture.responsibilities(x) * p[:, None]
    np.testing.assert_allclose(np.trapezoid(integrand, x[:, 0], axis=0), mixture.weights, atol=1e-8)


@pytest.mark.parametrize("mixture", [asymmetric_mixture(), ring_of_gaussians(), separated_modes_mixture()])
def test_estimate_on_exact_samples_is_close_to_true_weights(mixture):
    n = 20000
    w = estimate_mode_weights(mixture, mixture.sample(n, seed=0))
    assert w.shape == mixture.weights.shape
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w, mixture.weights, atol=4 * np.sqrt(0.25 / n))


def test_estimate_counts_samples_of_a_single_mode():
    mixture = separated_modes_mixture()
    samples = mixture.means[0] + np.random.default_rng(1).standard_normal((500, 2))
    np.testing.assert_allclose(estimate_mode_weights(mixture, samples), [1.0, 0.0], atol=1e-6)
    # 全変動距離 ½ (|1 - 0.2| + |0 - 0.8|) = 0.8
    assert mode_weight_error(mixture, samples) == pytest.approx(0.8, abs=1e-6)


def test_error_is_small_for_exact_samples_and_deterministic():
    mixture = asymmetric_mixture()
    x = mixture.sample(5000, seed=2)
    assert mode_weight_error(mixture, x) < 0.02
    assert mode_weight_error(mixture, x) == mode_weight_error(mixture, x.copy())


def test_bad_inputs():
    mixture = asymmetric_mixture()
    with pytest.raises(ValueError, match="mixture must be a GaussianMixture"):
        estimate_mode_weights("mixture", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="samples must have shape \\(N, 2\\)"):
        estimate_mode_weights(mixture, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="samples must be finite"):
        estimate_mode_weights(mixture, [[0.0, np.nan]])
    with pytest.raises(ValueError, match="samples must have 2 dimension"):
        mode_weight_error(mixture, np.zeros(2))
