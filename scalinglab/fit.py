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


# --- The Chinchilla law L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, Approach 3) ---

# Hoffmann et al.'s grid of starting points for (a, b, e, alpha, beta) = (log A, log B, log E, alpha, beta)
HOFFMANN_GRID = np.array(np.meshgrid(np.arange(0, 30, 5), np.arange(0, 30, 5), np.arange(-1, 1.5, 0.5),
                                     np.arange(0, 2.5, 0.5), np.arange(0, 2.5, 0.5), indexing="ij")).reshape(5, -1).T
PARAMS = ("E", "A", "B", "alpha", "beta")


@dataclass
class ChinchillaFit:
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float           # the fit's loss: Huber on log residuals, summed (or averaged) over points
    n_points: int = 0
    intervals: dict = field(default_factory=dict)  # name -> (low, high) at `level`, over bootstrap refits
    level: float = 0.95

    def predict(self, N, D):
        return self.E + self.A * np.asarray(N, dtype=float) ** -self.alpha + self.B * np.asarray(D, dtype=float) ** -self.beta

    def compute_optimal(self, C):
        """(N_opt, D_opt) minimising the law at C = 6 N D: N_opt = G (C/6)^(beta/(alpha+beta)), D_opt = (C/6) / N_opt,
        with G = (alpha A / (beta B))^(1/(alpha+beta))."""
        G = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        N = G * (np.asarray(C, dtype=float) / 6) ** (self.beta / (self.alpha + self.beta))
        return N, np.asarray(C, dtype=float) / 6 / N

    @property
    def exponents(self):
        """(a, b): N_opt grows as C^a and D_opt as C^b, a = beta/(alpha+beta), b = alpha/(alpha+beta)."""
        return self.beta / (self.alpha + self.beta), self.alpha / (self.alpha + self.beta)

    def __str__(self):
        spans = "".join(f"\n  {k} in [{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in self.intervals.items())
        return (f"L = {self.E:.4g} + {self.A:.4g} / N^{self.alpha:.4g} + {self.B:.4g} / D^{self.beta:.4g}"
                + (f"\n{self.level:.0%} bootstrap intervals:{spans}" if spans else ""))


def huber_objective(log_N, log_D, log_L, weights, delta):
    """fun(theta, rows) for lbfgs.minimize: the weighted Huber loss of log L - log(e^a/N^alpha + e^b/D^beta + e^e)
    for each row of theta = (a, b, e, alpha, beta), and its gradient. weights: (n,), or (problems, n) per row."""
    def fun(theta, rows):
        a, b, e, alpha, beta = (column[:, None] for column in theta.T)
        z = np.stack(np.broadcast_arrays(a - alpha * log_N, b - beta * log_D, e))
        top = z.max(axis=0)
        parts = np.exp(z - top)
        total = parts.sum(axis=0)
        share = parts / total                    # d log-prediction / d (a, b, e)
        r = log_L - (top + np.log(total))
        w = weights[rows] if weights.ndim == 2 else weights
        size = np.abs(r)
        inner = np.minimum(size, delta)
        loss = 0.5 * inner ** 2 + delta * (size - inner)  # r^2 / 2 up to delta, then linear; never squares a huge r
        pull = -w * np.clip(r, -delta, delta)   # d loss / d log-prediction
        grad = np.stack([(pull * share[0]).sum(1), (pull * share[1]).sum(1), (pull * share[2]).sum(1),
                         -(pull * share[0] * log_N).sum(1), -(pull * share[1] * log_D).sum(1)], axis=1)
        return (w * loss).sum(axis=1), grad
    return fun


def _chinchilla_inputs(N, D, L):
    N, D, L = (np.asarray(v, dtype=float).ravel() for v in (N, D, L))
    if not len(N) == len(D) == len(L):
        raise ConfigError(f"N, D and L must have the same length, got {len(N)}, {len(D)} and {len(L)}")
    if not all(np.all(np.isfinite(v)) for v in (N, D, L)):
        raise ConfigError("N, D and L must be finite numbers: drop diverged runs (NaN or inf) before fitting")
    if np.any(N <= 0) or np.any(D <= 0) or np.any(L <= 0):
        raise ConfigError("N, D and L must be positive: the law is fitted to log L, with log N and log D")
    if len(N) < 6 or len(np.unique(N)) < 2 or len(np.unique(D)) < 2:
        raise ConfigError(f"the law has 5 parameters: fit it to 6 or more runs with 2 or more values each of N "
                          f"and D, got {len(N)} runs, {len(np.unique(N))} N and {len(np.unique(D))} D")
    return N, D, L


def fit_chinchilla(N, D, L, reduction="sum", delta=1e-3, starts=None, n_boot=0, level=0.95, seed=0, boot_starts=30):
    """Fit L = E + A/N^alpha + B/D^beta as Besiroglu et al. (2024) refit Hoffmann et al. (2022).

    The law in log-sum-exp form, log L ~ LSE(a - alpha log N, b - beta log D, e), with a Huber loss
    (delta) on the log residuals, summed over runs ("sum") or averaged ("mean", which with the
    same absolute tolerances stops the optimizer early), minimised by L-BFGS from every start
    (default: Hoffmann's grid of 4,500); the best is returned. With n_boot > 0 the runs are
    resampled with replacement and refitted from the boot_starts starts that ended lowest, for
    percentile intervals of the parameters and of the allocation exponents a and b.
    """
    from scalinglab.lbfgs import minimize
    if reduction not in ("sum", "mean"):
        raise ConfigError(f"reduction must be 'sum' (as Besiroglu et al.) or 'mean' (as Hoffmann et al. appear to), "
                          f"got {reduction!r}")
    N, D, L = _chinchilla_inputs(N, D, L)
    starts = HOFFMANN_GRID if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    if starts.shape[1:] != (5,):
        raise ConfigError(f"each start is (log A, log B, log E, alpha, beta), got starts of shape {starts.shape}")
    weights = np.full(len(N), 1.0 if reduction == "sum" else 1.0 / len(N))
    logs = np.log(N), np.log(D), np.log(L)
    theta, value, _ = minimize(huber_objective(*logs, weights, delta), starts)
    best = np.nanargmin(np.where(np.isfinite(value), value, np.nan))
    fit = _chinchilla_from(theta[best], value[best], len(N), level)
    if n_boot:
        # Each resample is refitted from the starts whose fits ended lowest on all the data. Not from the
        # best point itself: near a minimum of this almost-L1 loss L-BFGS stalls, and intervals would shrink to it.
        top = starts[np.argsort(np.where(np.isfinite(value), value, np.inf))[:boot_starts]]
        counts = np.random.default_rng(seed).multinomial(len(N), np.full(len(N), 1 / len(N)), size=n_boot)
        refits, ends, _ = minimize(huber_objective(*logs, np.repeat(counts * weights, len(top), axis=0), delta),
                                   np.tile(top, (n_boot, 1)))
        lowest = np.argmin(np.where(np.isfinite(ends), ends, np.inf).reshape(n_boot, len(top)), axis=1)
        samples = [_chinchilla_from(t, 0.0, len(N), level)
                   for t in refits.reshape(n_boot, len(top), 5)[np.arange(n_boot), lowest]]
        for name in PARAMS:
            fit.intervals[name] = percentile_interval([getattr(s, name) for s in samples], level)
        for i, name in enumerate(("a", "b")):
            fit.intervals[name] = percentile_interval([s.exponents[i] for s in samples], level)
    return fit


def _chinchilla_from(theta, value, n_points, level):
    a, b, e, alpha, beta = theta
    return ChinchillaFit(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=float(alpha),
                         beta=float(beta), objective=float(value), n_points=n_points, level=level)


# --- IsoFLOP profiles (Hoffmann et al. 2022, Approach 2) ---

def _isoflop_inputs(N, L):
    N, L = np.asarray(N, dtype=float).ravel(), np.asarray(L, dtype=float).ravel()
    if N.shape != L.shape:
        raise ConfigError(f"N and L must have the same length, got {len(N)} and {len(L)}")
    if not (np.all(np.isfinite(N)) and np.all(np.isfinite(L))) or np.any(N <= 0):
        raise ConfigError("N must be positive and N and L finite: drop diverged runs before fitting")
    if len(np.unique(N)) < 3:
        raise ConfigError(f"a parabola needs runs of 3 or more sizes at the budget, got {len(np.unique(N))}")
    return N, L


def isoflop_parabola(N, L):
    """(c0, c1, c2) of L = c0 + c1 x + c2 x^2, x = ln N, fitted by least squares to one budget's runs."""
    N, L = _isoflop_inputs(N, L)
    c2, c1, c0 = np.polyfit(np.log(N), L, 2)
    return float(c0), float(c1), float(c2)


def near_the_best(N, L, around=None):
    """One budget's runs within `around` sizes (by rank) of the lowest loss; all of them when around is None.

    Far from the optimum an isoFLOP profile need not be a parabola: runs with too few tokens
    flatten out near what a bigram model knows, and a parabola through them misplaces the vertex.
    """
    N, L = _isoflop_inputs(N, L)
    if around is None:
        return N, L
    order = np.argsort(N)
    best = int(np.argmin(L[order]))
    keep = order[max(0, best - around):best + around + 1]
    return N[keep], L[keep]


def isoflop_minimum(N, L, around=None):
    """The N at the vertex of the parabola in ln N fitted to one budget's runs (Hoffmann et al., Approach 2),
    or to those within `around` sizes of the best (near_the_best). It must be a minimum that lies among
    the sizes fitted; otherwise train sizes on both sides of it."""
    N, L = near_the_best(N, L, around)
    _, c1, c2 = isoflop_parabola(N, L)
    if c2 <= 0:
        raise ConfigError("the parabola through these runs opens downwards: it has no minimum. Train sizes on "
                          "both sides of the best one")
    vertex = float(np.exp(-c1 / (2 * c2)))
    if not N.min() <= vertex <= N.max():
        raise ConfigError(f"the parabola's minimum, N = {vertex:.3g}, lies outside the sizes trained "
                          f"({N.min():.3g} to {N.max():.3g}): train sizes beyond it")
    return vertex


def isoflop_argmin(N, L):
    """The measured size with the lowest loss at one budget: no parabola, so no smoothing and no interpolation."""
    N, L = _isoflop_inputs(N, L)
    return float(N[np.argmin(L)])


def allocation_exponent(C, N, L, around=None, n_boot=1000, level=0.95, seed=0):
    """How the loss-minimising size grows with compute: N_opt = k C^a, fitted on log-log axes to the
    isoflop_minimum(N, L, around) of each distinct budget in C. Runs are given one per row (C, N, L).

    The interval comes from a parametric bootstrap: each run's loss moves by the scatter of its
    budget's fitted runs about their parabola, the minima are found again, and the line refitted.
    It covers how well the parabolas pin their minima down, not a wrong functional form; resamples
    whose minimum leaves the sizes fitted are dropped, and "kept" says what fraction remained.
    Returns {"a", "k", "budgets", "N_opt", "interval", "kept"}.
    """
    C, N, L = (np.asarray(v, dtype=float).ravel() for v in (C, N, L))
    order = np.lexsort((N, C))  # the bootstrap draws its noise run by run: the same runs in any order, same draws
    C, N, L = C[order], N[order], L[order]
    budgets = np.unique(C)
    if len(budgets) < 2:
        raise ConfigError(f"an exponent needs 2 or more budgets, got {len(budgets)}")
    groups = [C == c for c in budgets]
    sigma = []
    for g in groups:
        n, l = near_the_best(N[g], L[g], around)
        c0, c1, c2 = isoflop_parabola(n, l)
        x = np.log(n)
        sigma.append(np.sqrt(np.sum((l - (c0 + c1 * x + c2 * x ** 2)) ** 2) / max(1, len(n) - 3)))

    def line(losses):
        n_opt = np.array([isoflop_minimum(N[g], losses[g], around) for g in groups])
        slope, intercept = np.polyfit(np.log(budgets), np.log(n_opt), 1)
        return slope, np.exp(intercept), n_opt

    a, k, n_opt = line(L)
    rng, slopes = np.random.default_rng(seed), []
    for _ in range(n_boot):
        noisy = L.copy()
        for g, s in zip(groups, sigma):
            noisy[g] += rng.normal(0.0, s, g.sum())
        try:
            slopes.append(line(noisy)[0])
        except ConfigError:  # a resample whose minimum left the sizes trained: its slope is unknown
            continue
    return {"a": float(a), "k": float(k), "budgets": budgets, "N_opt": n_opt,
            "interval": percentile_interval(slopes, level) if slopes else None,
            "kept": len(slopes) / n_boot if n_boot else None}
