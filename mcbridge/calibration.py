"""Post-hoc calibration of MC samples: temperature scaling, in pure NumPy.

`TemperatureScaler` learns one temperature `T` on held-out labelled data and
divides every MC sample's log-probabilities (or logits) by it before the
softmax. Importing this module imports no TensorFlow or Keras.

Why per sample, not on the MC mean: MC dropout's information is in the spread
of the samples (mutual information, variation ratio, the conformal scores
that look at each sample). Rescaling the mean alone would return one
probability vector per input and throw that spread away; rescaling each
sample keeps an `(n[, *dims], classes, samples)` cube, so every measure of
`MCResult` still applies after calibration, and the temperature is chosen
for what users report: the NLL of the MC mean of the rescaled samples.
Each sample keeps its ranking of the classes; the MC mean's top class can
change for a few inputs whose samples disagree (the mean of rescaled samples
is not a rescaled mean), unlike temperature scaling of a single softmax.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mcbridge._checks import check_bool, check_labels, check_number
from mcbridge.metrics._common import pooled
from mcbridge.result import MCResult, _unrows

__all__ = ["TemperatureScaler", "apply_temperature"]

# Search range of the temperature and the grid that brackets the minimum
# before the golden-section refinement (both on log T).
_LOG_T_MIN, _LOG_T_MAX, _GRID = math.log(1e-2), math.log(1e2), 81
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_BLOCK_ELEMENTS = 1 << 22


def _samples(result, arg: str = "result") -> np.ndarray:
    """Checks `result` (type, task, shape) and returns its samples as they are, `(n[, *dims], classes, samples)`."""
    res = result if isinstance(result, MCResult) else None
    if res is not None and res.task != "classification":
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected a "
            f"classification result. Received: task={res.task!r}"
        )
    samples = res.samples if res is not None else result
    try:
        x = np.asarray(samples)
    except Exception:  # noqa: BLE001 - anything numpy cannot read is a type error
        x = None
    if x is None or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(
            f"Invalid value received for argument `{arg}`. Expected an MCResult "
            f"or a numeric array of shape (n, classes, samples) or (n, *dims, classes, samples). "
            f"Received: {arg} of type {type(result).__name__}"
        )
    if x.ndim < 3 or x.size == 0 or x.shape[-2] < 2:
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected a non-empty "
            f"array of shape (n, classes, samples) or (n, *dims, classes, samples) with at "
            f"least 2 classes. Received: shape={x.shape}"
        )
    return x


def _cube(result, arg: str = "result") -> tuple[np.ndarray, MCResult | None]:
    """Returns the samples as a float64 array `(n[, *dims], classes, samples)`, checked (`_samples`)."""
    return _samples(result, arg).astype(np.float64), result if isinstance(result, MCResult) else None


def _log_probs(x: np.ndarray, from_logits: bool, arg: str = "result") -> np.ndarray:
    """Per-sample log-probabilities (up to a per-sample constant)."""
    if from_logits:
        if not np.all(np.isfinite(x)):
            raise ValueError(
                f"Invalid value received for argument `{arg}`. Expected finite "
                "logits. Received: NaN or infinite values"
            )
        return x
    if not np.all(np.isfinite(x)) or x.min() < -1e-6 or x.max() > 1 + 1e-6:
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected "
            "probabilities in [0, 1]. If these are logits, pass from_logits=True."
        )
    if np.max(np.abs(x.sum(axis=-2) - 1.0)) > 1e-3:
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected "
            "probabilities that sum to 1 over the classes axis (the last but one)."
        )
    with np.errstate(divide="ignore"):
        return np.log(np.clip(x, 0.0, 1.0))  # exact zeros stay zero: 0**(1/T) = 0


def _softmax(logp: np.ndarray, temperature: float) -> np.ndarray:
    z = logp / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def apply_temperature(
    samples: MCResult | ArrayLike, temperature: float, from_logits: bool = False
) -> np.ndarray:
    """Divides each sample's log-probabilities (or logits) by `temperature`.

    Args:
        samples: `(n, classes, samples)` or `(n, *dims, classes, samples)`
            probabilities (or logits with `from_logits=True`), or an
            `MCResult`.
        temperature: Positive number; above 1 softens, below 1 sharpens.
        from_logits: Whether `samples` are logits.

    Returns:
        `float64` probabilities of the shape of `samples`, each sample
        `softmax(log p_s / temperature)` over the classes axis.

    Raises:
        TypeError: `samples` is not numeric.
        ValueError: bad shape, values or `temperature`.
    """
    t = check_number("temperature", temperature, minimum=0, min_open=True)
    x, _ = _cube(samples, "samples")
    rows, _ = pooled(x, None)  # a dense output's positions as rows
    return _unrows(_softmax(_log_probs(rows, from_logits, "samples"), t), x.shape[:-2])


def _row_blocks(shape: tuple[int, ...]):
    """Row slices whose float64 temporaries stay near 32 MiB."""
    step = max(1, _BLOCK_ELEMENTS // max(1, int(np.prod(shape[1:]))))
    return [slice(i, i + step) for i in range(0, shape[0], step)]


def _mean_nll(logp: np.ndarray, y: np.ndarray, log_t: float) -> float:
    """NLL of the MC mean of `softmax(logp / T)`, in nats (floor 1e-12)."""
    t = math.exp(log_t)
    total = 0.0
    for rows in _row_blocks(logp.shape):
        z = logp[rows] / t  # (block, classes, samples)
        m = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0, :]  # (block, samples)
        yb = y[rows]
        p_true = np.exp(z[np.arange(len(yb)), yb, :] - lse).mean(axis=1)
        total += float(np.sum(np.log(np.maximum(p_true, 1e-12))))
    return -total / len(y)


def _minimise(f, lo: float, hi: float, n_grid: int, tol: float = 1e-10) -> float:
    """Grid search on `[lo, hi]`, then golden-section search around the best point.

    The grid finds the basin even if `f` is not unimodal on the whole range;
    golden-section search then narrows the bracketing interval to `tol`.
    """
    grid = np.linspace(lo, hi, n_grid)
    values = [f(g) for g in grid]
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tol:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return (a + b) / 2


class TemperatureScaler:
    """Temperature scaling of MC samples (Guo et al., 2017), one temperature.

    Each sample `s` of input `i` becomes `softmax(log p[i, :, s] / T)` (or
    `softmax(logits[i, :, s] / T)`): the samples keep their spread, so the
    calibrated result still has epistemic uncertainty. `fit` chooses `T` in
    `[0.01, 100]` to minimise the NLL of the MC mean of the rescaled samples
    (a grid on `log T`, then golden-section search to `1e-10` in `log T`).

    Args:
        from_logits: Whether results passed to `fit`/`transform` hold logits
            rather than probabilities (softmax outputs).

    Attributes:
        temperature_: The fitted temperature (a Python float), after `fit`.
        nll_before_: NLL (nats) of the MC mean on the fitting data at `T = 1`.
        nll_after_: NLL (nats) at `temperature_`.

    Example:
        >>> scaler = TemperatureScaler().fit(result_val, y_val)
        >>> calibrated = scaler.transform(result_test)   # an MCResult
    """

    def __init__(self, from_logits: bool = False):
        self.from_logits = check_bool("from_logits", from_logits)

    def fit(self, result: MCResult | ArrayLike, y: ArrayLike, ignore=None) -> TemperatureScaler:
        """Finds the temperature on labelled data.

        A dense output `(n, *dims, classes, samples)` with labels `(n, *dims)`
        is fitted on its positions pooled as rows (Fortran order, as R's
        `mc_temperature_scaling()`; `mcbridge.metrics._common.pooled`).

        Args:
            result: An `MCResult` (classification) or an array of shape
                `(n, classes, samples)` or `(n, *dims, classes, samples)`.
            y: Class labels of shape `(n,)`, or `(n, *dims)` for a dense
                output: integer codes `0..classes-1` (or class names).
            ignore: Labels left out of the fit: a label value (a void label
                such as 255 or `"void"`, compared with `y` as given), a list
                of them, or a boolean array shaped like `y`, True where to
                ignore (padding). None: none.

        Returns:
            `self`, with `temperature_`, `nll_before_` and `nll_after_` set.

        Raises:
            TypeError: `result` or `y` has the wrong type.
            ValueError: bad shapes or values: labels not `(n,)` or
                `(n, *dims)`, or an `ignore` of another shape than `y` or
                that leaves out every label.
        """
        _samples(result)  # checks `result` before the labels
        rows, y = pooled(result, y, ignore)
        x, _ = _cube(rows)
        logp = _log_probs(x, self.from_logits)
        y = check_labels(y, x.shape[0], x.shape[1], class_names=getattr(result, "class_names", None))
        f = lambda log_t: _mean_nll(logp, y, log_t)  # noqa: E731
        log_t = _minimise(f, _LOG_T_MIN, _LOG_T_MAX, _GRID)
        self.temperature_ = math.exp(log_t)
        self.nll_before_ = f(0.0)
        self.nll_after_ = f(log_t)
        return self

    def transform(self, result: MCResult | ArrayLike) -> MCResult:
        """Returns the calibrated samples as a new `MCResult` of the same shape.

        Args:
            result: An `MCResult` or array `(n, classes, samples)` or
                `(n, *dims, classes, samples)`, holding probabilities (or
                logits if `from_logits`).

        Returns:
            An `MCResult` of `float32` probabilities of the shape of
            `result`, with the input's class names.

        Raises:
            ValueError: called before `fit`, or bad input.
        """
        if not hasattr(self, "temperature_"):
            raise ValueError("This TemperatureScaler is not fitted yet. Call `fit(result, y)` first.")
        x, res = _cube(result)
        rows, _ = pooled(x, None)  # a dense output's positions as rows
        logp = _log_probs(rows, self.from_logits)
        out = np.empty(rows.shape, dtype=np.float32, order="F")  # the layout R uses
        for block in _row_blocks(rows.shape):
            out[block] = _softmax(logp[block], self.temperature_)
        names = res.class_names if res is not None else None
        return MCResult(_unrows(out, x.shape[:-2]), class_names=names)

    def fit_transform(self, result: MCResult | ArrayLike, y: ArrayLike, ignore=None) -> MCResult:
        """`fit(result, y, ignore)`, then `transform(result)` (every position, the ignored ones too)."""
        return self.fit(result, y, ignore).transform(result)

    def __repr__(self) -> str:
        t = f"{self.temperature_:.4g}" if hasattr(self, "temperature_") else "unfitted"
        return f"<TemperatureScaler temperature={t} from_logits={self.from_logits}>"

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: the temperature and the NLL it bought."""
        from mcbridge import _html

        rows = [("inputs", "logits" if self.from_logits else "probabilities")]
        if not hasattr(self, "temperature_"):
            return _html.table("TemperatureScaler (not fitted)", rows, "Call fit(result, y) on held-out data.")
        t = self.temperature_
        rows += [
            ("temperature", f"{t:.4g} ({'softens: was overconfident' if t > 1 else 'sharpens: was underconfident' if t < 1 else 'no change'})"),
            ("NLL on the fitting data", f"{self.nll_before_:.4f} -> {self.nll_after_:.4f} nats"),
        ]  # fmt: skip
        return _html.table("TemperatureScaler", rows, "transform(result) rescales every MC sample.")
