"""Fitting scaling laws: power laws, saturating power laws, bootstrap intervals.

Every fit returns a `Fit`: its parameters, `predict`, and percentile-bootstrap intervals that say
honestly how well the data pin the parameters down. Fits are done in log space, where a power
law is a straight line and every decade of x weighs the same.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from scalinglab.errors import ConfigError


@dataclass
class Fit:
    law: str                  # 'power' (y = A x^-alpha) or 'saturating' (y = E + B x^-beta)
    params: dict
    intervals: dict = field(default_factory=dict)  # name -> (low, high) at `level`
    level: float = 0.95
    n_points: int = 0
    rms_log_residual: float = 0.0  # root mean square of log(y) - log(prediction)

    def predict(self, x):
        x = np.asarray(x, dtype=float)
        p = self.params
        if self.law == "power":
            return p["A"] * x ** -p["alpha"]
        return p["E"] + p["B"] * x ** -p["beta"]

    def equation(self, x="x", digits=3):
        p = self.params
        if self.law == "power":
            return f"{p['A']:.{digits}g} · {x}^(−{p['alpha']:.{digits}g})"
        return f"{p['E']:.{digits}g} + {p['B']:.{digits}g} · {x}^(−{p['beta']:.{digits}g})"

    def __str__(self):
        # one line per interval, so that a printed fit fits a narrow page
        spans = "".join(f"\n  {k} in [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in self.intervals.items())
        return f"y = {self.equation()}" + (f"\n{self.level:.0%} bootstrap intervals:{spans}" if spans else "")


def _validate(x, y, min_points):
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ConfigError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ConfigError("x and y must be finite numbers: drop diverged runs (NaN or inf) before fitting")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ConfigError("a power law is fitted in log space: x and y must be positive")
    if len(np.unique(x)) < min_points:
        raise ConfigError(f"this law needs at least {min_points} distinct x values, got {len(np.unique(x))}")
    return x, y


def _power_params(x, y):
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return {"A": float(np.exp(intercept)), "alpha": float(-slope)}


def _saturating_params(x, y):
    # Fit log y = log(E + B x^-beta) with x rescaled to its geometric mean, so that B is O(y)
    # whatever the units of x; several starting floors E0, since the problem is not convex.
    scale = np.exp(np.mean(np.log(x)))
    u, logy = x / scale, np.log(y)

    def residuals(theta):
        E, log_b, beta = theta
        return np.log(E + np.exp(log_b) * u ** -beta) - logy

    best = None
    for frac in (0.0, 0.5, 0.8, 0.95):
        E0 = frac * y.min()
        start = _power_params(u, np.maximum(y - E0, 1e-12 * y.min()))
        theta0 = [E0, np.log(start["A"]), max(start["alpha"], 1e-3)]
        sol = least_squares(residuals, theta0, bounds=([0, -np.inf, 0], [y.min(), np.inf, 10]))
        if best is None or sol.cost < best.cost:
            best = sol
    E, log_b, beta = best.x
    return {"E": float(E), "B": float(np.exp(log_b) * scale ** beta), "beta": float(beta)}


LAWS = {"power": (_power_params, 2), "saturating": (_saturating_params, 3)}


def percentile_interval(samples, level=0.95):
    """The central `level` interval of bootstrap samples (the percentile bootstrap)."""
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_intervals(law, x, y, n_boot=1000, level=0.95, seed=0, yerr=None):
    """Percentile intervals of each parameter over refits to resampled data.

    Without yerr: a case bootstrap, refitting resampled (x, y) pairs. It needs many points: with four,
    most resamples repeat points until the law fits them exactly, and the interval says little.
    With yerr (the measured standard error of each y): a parametric bootstrap, refitting the fitted
    law plus noise of the measured size. It holds with few points, but covers measurement noise only,
    not a wrong law or run-to-run variation such as the seed.
    """
    fit_params, min_points = LAWS[law]
    rng = np.random.default_rng(seed)
    samples = []
    if yerr is None:
        for _ in range(n_boot):
            i = rng.integers(0, len(x), len(x))
            if len(np.unique(x[i])) >= min_points:  # a resample must still determine the law
                samples.append(fit_params(x[i], y[i]))
    else:
        fitted = Fit(law, fit_params(x, y)).predict(x)
        for _ in range(n_boot):
            samples.append(fit_params(x, fitted * np.exp(rng.normal(0.0, yerr / y))))
    if not samples:
        raise ConfigError(f"no bootstrap resample had {min_points} distinct x values: fit more points, or pass yerr")
    return {k: percentile_interval([s[k] for s in samples], level) for k in samples[0]}


def fit_law(law, x, y, n_boot=1000, level=0.95, seed=0, yerr=None) -> Fit:
    if law not in LAWS:
        raise ConfigError(f"unknown law {law!r}: use one of {sorted(LAWS)}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ConfigError(f"n_boot must be a whole number >= 0, got {n_boot!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must lie between 0 and 1 (0.95 for a 95% interval), got {level!r}")
    fit_params, min_points = LAWS[law]
    x, y = _validate(x, y, min_points)
    if yerr is not None:
        yerr = np.broadcast_to(np.asarray(yerr, dtype=float), y.shape)
        if not np.all(np.isfinite(yerr) & (yerr > 0)):
            raise ConfigError("yerr must be positive finite standard errors, one per point")
    fit = Fit(law, fit_params(x, y), level=level, n_points=len(x))
    fit.rms_log_residual = float(np.sqrt(np.mean((np.log(y) - np.log(fit.predict(x))) ** 2)))
    if n_boot:
        fit.intervals = bootstrap_intervals(law, x, y, n_boot, level, seed, yerr)
    return fit


def fit_power_law(x, y, n_boot=1000, level=0.95, seed=0, yerr=None) -> Fit:
    """y = A x^-alpha, by least squares on log y against log x."""
    return fit_law("power", x, y, n_boot, level, seed, yerr)


def fit_saturating_power_law(x, y, n_boot=1000, level=0.95, seed=0, yerr=None) -> Fit:
    """y = E + B x^-beta with E >= 0, by least squares on log y (E is the irreducible part)."""
    return fit_law("saturating", x, y, n_boot, level, seed, yerr)
