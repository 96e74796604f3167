"""Split conformal prediction on MC samples, in pure NumPy.

Classification: `ConformalClassifier` turns class probabilities into
prediction sets that contain the true label with probability at least
`1 - alpha` (over the draw of calibration and test data, assuming they are
exchangeable). Regression: `ConformalRegressor` gives intervals whose width
follows the MC standard deviation. A dense output `(n, *dims, classes,
samples)` is calibrated on its positions pooled as rows (as R and
`mcbridge.evaluate`, `mcbridge.metrics._common.pooled`) and gets a set or
interval per input and position. Importing this module imports no
TensorFlow or Keras.

Split conformal recipe: compute a score `s(x, y)` (large when `y` looks
wrong) on `n` labelled calibration inputs, take `qhat`, the
`ceil((n + 1)(1 - alpha))`-th smallest score (infinite when that exceeds
`n`), and predict `{y : s(x, y) <= qhat}`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from mcbridge._checks import check_bool, check_choice, check_int, check_labels, check_number, check_seed
from mcbridge.metrics._common import pooled
from mcbridge.result import MCResult, _unrows

__all__ = [
    "METHODS",
    "ConformalClassifier",
    "ConformalRegressor",
    "conformal_quantile",
    "coverage",
    "set_size",
    "uniforms",
]

#: Score functions of `ConformalClassifier`.
METHODS = ("lac", "aps", "raps")
_MC_SCORES = ("mean", "average")


def _check_alpha(alpha) -> float:
    return check_number("alpha", alpha, minimum=0, maximum=1, min_open=True, max_open=True)


def _array(result, task: str, arg: str = "result") -> np.ndarray:
    """Checks `result` (type, task, shape); its samples as they are, `(n[, *dims], classes, samples)`."""
    if isinstance(result, MCResult):
        if result.task != task:
            raise ValueError(
                f"Invalid value received for argument `{arg}`. Expected a {task} "
                f"result. Received: task={result.task!r}"
            )
        result = result.samples
    try:
        x = np.asarray(result)
    except Exception:  # noqa: BLE001
        x = None
    what = "classes" if task == "classification" else "outputs"
    if x is None or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(
            f"Invalid value received for argument `{arg}`. Expected an MCResult "
            f"or a numeric array of shape (n, {what}, samples) or (n, *dims, {what}, samples). "
            f"Received: {arg} of type {type(result).__name__}"
        )
    if x.ndim < 3 or x.size == 0:
        raise ValueError(
            f"Invalid value received for argument `{arg}`. Expected a non-empty "
            f"array of shape (n, {what}, samples) or (n, *dims, {what}, samples). "
            f"Received: shape={x.shape}"
        )
    return x


def _cube(result, task: str, arg: str = "result") -> np.ndarray:
    """The samples as checked float64, `(n[, *dims], classes, samples)` (probabilities for classification)."""
    x = _array(result, task, arg).astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Invalid value received for argument `{arg}`. Expected finite values.")
    if task == "classification":
        if x.min() < -1e-6 or x.max() > 1 + 1e-6 or np.max(np.abs(x.sum(axis=-2) - 1)) > 1e-3:
            raise ValueError(
                f"Invalid value received for argument `{arg}`. Expected "
                "probabilities of shape (n, classes, samples) or (n, *dims, classes, samples) "
                "that sum to 1 over the classes axis (the last but one)."
            )
        x = np.clip(x, 0.0, 1.0)
    return x


def conformal_quantile(scores: ArrayLike, alpha: float) -> float:
    """The split-conformal threshold of calibration `scores`.

    Args:
        scores: `(n,)` calibration scores.
        alpha: Miscoverage level in `(0, 1)`.

    Returns:
        The `ceil((n + 1)(1 - alpha))`-th smallest score, or `inf` when that
        rank exceeds `n` (too few calibration inputs for this `alpha`).
    """
    alpha = _check_alpha(alpha)
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    # A hair below the exact rank so that e.g. (n + 1) * 0.9 = 900.0000000001
    # is not rounded up to 901 by floating point.
    rank = math.ceil((len(s) + 1) * (1 - alpha) - 1e-9)
    return float(s[rank - 1]) if rank <= len(s) else math.inf


def _sample_mean(x: np.ndarray) -> np.ndarray:
    """Mean over axis 2, summed in sample order (as R's `mc_conformal()` does).

    A fixed order of additions makes the mean, and so the sets, the same bits
    in both languages whatever the memory order of `x`.
    """
    total = x[:, :, 0].copy()
    for s in range(1, x.shape[2]):
        total += x[:, :, s]
    return total / x.shape[2]


def _class_scores(p, method, lam, k_reg, u):
    """Score of every class, `(n, classes)` from probabilities `p` `(n, classes)`.

    `u` `(n, 1)` weights the class's own probability in APS/RAPS (1: the
    deterministic score; uniform draws: the randomised one).
    """
    if method == "lac":
        return 1.0 - p
    order = np.argsort(-p, axis=1, kind="stable")  # ties: lower class first
    sorted_p = np.take_along_axis(p, order, axis=1)
    above = np.cumsum(sorted_p, axis=1) - sorted_p  # mass ranked strictly above
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(p.shape[1])[None, :].repeat(p.shape[0], 0), axis=1)
    mass_above = np.take_along_axis(above, rank, axis=1)
    scores = mass_above + u * p
    if method == "raps":
        scores = scores + lam * np.maximum(rank + 1 - k_reg, 0)
    return scores


class ConformalClassifier:
    """Split conformal prediction sets from MC samples.

    Scores (large means "this label looks wrong"), for class probabilities
    `p` sorted in decreasing order (ties: lower class first):

    * `"lac"`: `1 - p[y]` (least ambiguous set-valued classifier; smallest
      sets on average, uneven coverage across easy and hard inputs).
    * `"aps"`: total probability of the classes ranked above `y`, plus
      `p[y]` (adaptive prediction sets; larger sets for uncertain inputs).
    * `"raps"`: APS plus `lam * max(0, rank(y) - k_reg)` with `rank` from 1
      (regularised APS; penalises long tails of unlikely classes).

    Defaults (chosen on Fashion-MNIST measurements, see
    docs/CALIBRATION.md and `benchmarks/conformal_aps_variants.py`):

    * `include_top=True` (APS/RAPS): the top-ranked class of the MC mean
      scores 0, in calibration and in prediction. It is therefore in every
      set (no set is ever empty, a confident input's set holds its top
      class), and the threshold is calibrated knowing that, so coverage
      stays close to `1 - alpha` (it is still a valid conformal score). With
      `include_top=False`, a confident input whose top probability exceeds
      the threshold gets an empty set (plain APS/RAPS; 5-10% of the sets on
      Fashion-MNIST).
    * `randomized=False`: APS/RAPS count all of `p[y]`: the sets depend on
      the probabilities only. `randomized=True` counts a uniform fraction
      `U * p[y]` instead (Romano et al. 2020): one `U` per input, from
      `uniforms(seed, stream, n)` (stream 0 in `fit`, 1 in `predict_sets`;
      input `i`'s draw depends on its row only), which R's `mc_conformal()`
      draws identically, so the same seed gives the same sets in both
      languages. Slightly smaller sets (3-10% on Fashion-MNIST with
      `include_top`), which depend on the draw.

    LAC is always deterministic and `include_top` does not apply to it (its
    rare empty sets are inputs where no class has probability above
    `1 - qhat`, as in other libraries). Empty sets count as misses in
    `coverage`.

    Using the samples: `mc_score="mean"` (default) scores the MC mean
    probabilities; `mc_score="average"` averages each sample's own score
    over the samples, so a class whose rank jumps between samples costs
    more. For LAC both are the same (the score is linear in `p`).

    Args:
        method: `"lac"`, `"aps"` or `"raps"`.
        alpha: Target miscoverage in `(0, 1)`: sets aim at `1 - alpha`.
        lam: RAPS penalty per class beyond `k_reg` (ignored otherwise).
        k_reg: RAPS number of classes without penalty.
        randomized: Use the randomised APS/RAPS score.
        include_top: APS/RAPS: score the top class (of the MC mean
            probabilities) 0, so every set holds it.
        seed: Seed of the randomised score's uniforms, a non-negative
            integer (below `2**53` to match R), or None (a fresh seed on each
            call). `fit` and `predict_sets` draw from streams 0 and 1.
        mc_score: `"mean"` or `"average"` (see above).

    Attributes:
        qhat_: The fitted score threshold (after `fit`).
        n_calibration_: Number of calibration inputs.

    Example:
        >>> cp = ConformalClassifier(method="aps", alpha=0.1).fit(res_cal, y_cal)
        >>> sets = cp.predict_sets(res_test)      # bool (n[, *dims], classes)
        >>> coverage(sets, y_test), set_size(sets).mean()
    """

    def __init__(
        self,
        method: str = "aps",
        alpha: float = 0.1,
        lam: float = 0.01,
        k_reg: int = 1,
        randomized: bool = False,
        seed: int | None = None,
        mc_score: str = "mean",
        include_top: bool = True,
    ):
        self.method = check_choice("method", method, METHODS)
        self.mc_score = check_choice("mc_score", mc_score, _MC_SCORES)
        self.randomized = check_bool("randomized", randomized) and method != "lac"
        self.include_top = check_bool("include_top", include_top) and method != "lac"
        self.seed = check_seed(seed)
        self.alpha = _check_alpha(alpha)
        self.lam = check_number("lam", lam, minimum=0)
        self.k_reg = check_int("k_reg", k_reg, minimum=0)

    def _u(self, n: int, stream: int) -> np.ndarray:
        if not self.randomized:
            return np.ones((n, 1))
        seed = int(np.random.default_rng().integers(2**53)) if self.seed is None else self.seed
        return uniforms(seed, stream, n)[:, None]

    def scores(self, result: MCResult | ArrayLike, u: ArrayLike | None = None) -> np.ndarray:
        """Score of every class for every input.

        Args:
            result: An `MCResult` or probabilities `(n, classes, samples)`
                or `(n, *dims, classes, samples)`.
            u: Optional weights of the own-class probability (APS/RAPS), one
                per input (per position of a dense output, pooled in Fortran
                order); ones (the deterministic score) when omitted.

        Returns:
            `float64` array of shape `(n, classes)` (`(n, *dims, classes)`
            for a dense output); with `include_top`, the top class of each
            input's MC mean (ties: the lower class) scores 0.
        """
        x = _cube(result, "classification")
        rows, _ = pooled(x, None)  # a dense output's positions as rows
        return _unrows(self._row_scores(rows, u), x.shape[:-2])

    def _row_scores(self, x: np.ndarray, u) -> np.ndarray:
        """`scores` of checked probabilities `(rows, classes, samples)`."""
        n = x.shape[0]
        u = np.ones((n, 1)) if u is None else np.asarray(u, dtype=np.float64).reshape(n, 1)
        mean = _sample_mean(x)
        if self.mc_score == "mean" or self.method == "lac":
            scores = _class_scores(mean, self.method, self.lam, self.k_reg, u)
        else:
            scores = np.zeros(x.shape[:2])
            for s in range(x.shape[2]):
                scores += _class_scores(x[:, :, s], self.method, self.lam, self.k_reg, u)
            scores /= x.shape[2]
        if self.include_top:
            scores[np.arange(n), mean.argmax(axis=1)] = 0.0
        return scores

    def fit(self, result: MCResult | ArrayLike, y: ArrayLike, ignore=None) -> ConformalClassifier:
        """Calibrates the threshold on labelled calibration data.

        A dense output `(n, *dims, classes, samples)` with labels `(n, *dims)`
        is calibrated on its positions pooled as rows (Fortran order, as R's
        `mc_conformal()`; `mcbridge.metrics._common.pooled`). Positions of one
        input are not exchangeable with each other, so coverage then holds
        over positions only approximately.

        Args:
            result: An `MCResult` (classification) or probabilities
                `(n, classes, samples)` or `(n, *dims, classes, samples)`,
                for calibration inputs only (not the data the model was
                trained on).
            y: Class labels `(n,)`, or `(n, *dims)` for a dense output:
                integer codes `0..classes-1` (or class names).
            ignore: Labels left out: a label value (a void label such as 255
                or `"void"`, compared with `y` as given), a list of them, or
                a boolean array shaped like `y`, True where to ignore. None:
                none.

        Returns:
            `self`, with `qhat_` and `n_calibration_` (rows used) set.

        Raises:
            TypeError: `result` or `y` has the wrong type.
            ValueError: bad shapes or values: labels not `(n,)` or
                `(n, *dims)`, or an `ignore` of another shape than `y` or
                that leaves out every label.
        """
        _array(result, "classification")  # checks `result` before the labels
        rows, y = pooled(result, y, ignore)
        x = _cube(rows, "classification")
        y = check_labels(y, x.shape[0], x.shape[1], class_names=getattr(result, "class_names", None))
        s = self._row_scores(x, self._u(x.shape[0], 0))
        self.qhat_ = conformal_quantile(s[np.arange(len(y)), y], self.alpha)
        self.n_calibration_ = len(y)
        self.n_classes_ = x.shape[1]
        return self

    def predict_sets(self, result: MCResult | ArrayLike) -> np.ndarray:
        """Prediction sets for new inputs.

        Args:
            result: An `MCResult` or probabilities `(n, classes, samples)` or
                `(n, *dims, classes, samples)`.

        Returns:
            `bool` array of shape `(n, classes)`, or `(n, *dims, classes)`
            for a dense output; `[i, ..., c]` is whether class `c` is in the
            set of input `i` (at that position). The randomised score draws
            one uniform per pooled row (Fortran order), as R.

        Raises:
            ValueError: called before `fit`, or the number of classes differs.
        """
        if not hasattr(self, "qhat_"):
            raise ValueError("This ConformalClassifier is not fitted yet. Call `fit(result, y)` first.")
        x = _cube(result, "classification")
        if x.shape[-2] != self.n_classes_:
            raise ValueError(
                "Invalid value received for argument `result`. Expected "
                f"{self.n_classes_} classes (as in fit). Received: {x.shape[-2]}"
            )
        rows, _ = pooled(x, None)
        sets = self._row_scores(rows, self._u(rows.shape[0], 1)) <= self.qhat_
        return _unrows(sets, x.shape[:-2])

    def __repr__(self) -> str:
        q = f" qhat={self.qhat_:.4g}" if hasattr(self, "qhat_") else ""
        return (f"<ConformalClassifier method={self.method} alpha={self.alpha} mc_score={self.mc_score} "
                f"randomized={self.randomized} include_top={self.include_top}{q}>")

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: the method, the promise and the threshold."""
        from mcbridge import _html

        rows = [
            ("method", f"{self.method}" + ("" if self.method == "lac" else
                                           f" (randomized: {self.randomized}, top class always in: {self.include_top})")),
            ("coverage promised", f"{1 - self.alpha:.0%} of true classes in their sets (alpha = {self.alpha:g})"),
            ("MC score", self.mc_score),
        ]  # fmt: skip
        if not hasattr(self, "qhat_"):
            return _html.table("ConformalClassifier (not fitted)", rows, "Call fit(result, y) on held-out data.")
        rows.append(("threshold qhat", f"{self.qhat_:.4g} (from {self.n_calibration_} calibration inputs)"))
        return _html.table("ConformalClassifier", rows, "predict_sets(result) gives one set of classes per input.")


_M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _fmix32(h):
    """MurmurHash3's 32-bit finaliser (a bijection with full avalanche), on ints or uint64 arrays."""
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & _M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def uniforms(seed: int, stream: int, n: int) -> np.ndarray:
    """`n` uniforms in (0, 1) for the randomised APS/RAPS score, the same bits in R.

    A counter-based generator written with 32-bit integer steps that R can
    do exactly in doubles (`mcbridge:::.cp_uniforms`): a key from the seed's
    low and high 32 bits and the stream, then for row `i` (from 0)
    `fmix32(fmix32(key + (i + 1) * 0x9E3779B9 mod 2**32) ^ key)`, plus 0.5,
    over `2**32`. Row `i`'s value depends only on `(seed, stream, i)`.

    Args:
        seed: Non-negative integer.
        stream: Non-negative integer below `2**32` (0: `fit`, 1: `predict_sets`).
        n: Number of uniforms.

    Returns:
        `float64` array of shape `(n,)`.
    """
    seed, stream = int(seed), int(stream)
    key = _fmix32(_fmix32(_fmix32((seed & _M32) ^ _GOLDEN) ^ ((seed >> 32) & _M32)) ^ stream)
    i = np.arange(1, n + 1, dtype=np.uint64)
    x = (np.uint64(key) + (i * np.uint64(_GOLDEN) & np.uint64(_M32))) & np.uint64(_M32)
    h = _fmix32(_fmix32(x) ^ np.uint64(key))
    return (h.astype(np.float64) + 0.5) / 2.0**32


def coverage(sets: ArrayLike, y: ArrayLike, ignore=None) -> float:
    """Fraction of inputs whose prediction set contains the true label.

    Args:
        sets: `bool` array `(n, classes)`, or `(n, *dims, classes)` for a
            dense output (from `predict_sets`), whose positions count as
            inputs.
        y: Class labels `(n,)`, or `(n, *dims)`: integer codes
            `0..classes-1`.
        ignore: Labels left out: a label value, a list of them, or a boolean
            array shaped like `y`, True where to ignore. None: none.

    Returns:
        A float in `[0, 1]`.

    Raises:
        TypeError: `sets` is not boolean, or `y` not integer codes.
        ValueError: the shapes do not match, or a bad `ignore`.
    """
    s = _sets(sets)
    rows, y = pooled(s[..., None], y, ignore)  # a samples axis of one: positions as rows
    rows = rows[..., 0]
    y = check_labels(y, rows.shape[0], rows.shape[1])
    return float(rows[np.arange(len(y)), y].mean())


def set_size(sets: ArrayLike) -> np.ndarray:
    """Number of classes in each prediction set: `int64` array `(n,)`, or `(n, *dims)` for dense sets."""
    return _sets(sets).sum(axis=-1, dtype=np.int64)


def _sets(sets) -> np.ndarray:
    s = np.asarray(sets)
    if s.dtype != np.bool_:
        raise TypeError(
            "Invalid value received for argument `sets`. Expected a boolean "
            f"array of shape (n, classes) or (n, *dims, classes). Received: sets of dtype {s.dtype}"
        )
    if s.ndim < 2 or s.shape[0] == 0:
        raise ValueError(
            "Invalid value received for argument `sets`. Expected a non-empty "
            f"array of shape (n, classes) or (n, *dims, classes). Received: shape={s.shape}"
        )
    return s


class ConformalRegressor:
    """Split conformal intervals scaled by the MC standard deviation.

    Score: `|y - mean| / (std + eps)` per output, where `mean` and `std`
    (ddof 1) are over the MC samples. The interval of a new input is
    `mean -/+ qhat * (std + eps)`: wide where the samples disagree, narrow
    where they agree, with marginal coverage at least `1 - alpha` for each
    output. `eps` keeps the score finite when the samples do not vary (then
    the intervals have one width for all inputs, plain split conformal).

    Args:
        alpha: Target miscoverage in `(0, 1)`.
        eps: Non-negative number added to the standard deviation.

    Attributes:
        qhat_: `(outputs,)` fitted thresholds (in units of `std + eps`).

    Example:
        >>> cr = ConformalRegressor(alpha=0.1).fit(res_cal, y_cal)
        >>> lower, upper = cr.predict_interval(res_test)  # (n[, *dims], outputs) each
    """

    def __init__(self, alpha: float = 0.1, eps: float = 1e-6):
        self.alpha = _check_alpha(alpha)
        self.eps = check_number("eps", eps, minimum=0)

    def _mean_scale(self, result):
        """MC mean and `std + eps`, `(rows, outputs)` each: a dense output's positions as rows."""
        x, _ = pooled(_cube(result, "regression"), None)
        if x.shape[2] < 2:
            raise ValueError(
                "Invalid value received for argument `result`. Expected at least "
                f"2 MC samples (for a standard deviation). Received: samples={x.shape[2]}"
            )
        return x.mean(axis=2), x.std(axis=2, ddof=1) + self.eps

    def fit(self, result: MCResult | ArrayLike, y: ArrayLike, ignore=None) -> ConformalRegressor:
        """Calibrates on labelled calibration data.

        A dense output `(n, *dims, outputs, samples)` is calibrated on its
        positions pooled as rows (Fortran order, as R's
        `mc_conformal_interval()`; one threshold per output). Positions of
        one input are not exchangeable, so coverage over positions is then
        approximate.

        Args:
            result: An `MCResult` with `task="regression"` or an array
                `(n, outputs, samples)` or `(n, *dims, outputs, samples)`.
            y: Targets `(n,)` (one output) or `(n, outputs)`; for a dense
                output `(n, *dims, outputs)` (or `(n, *dims)` for one output).
            ignore: None, or a boolean array `(n,)` (`(n, *dims)` for a dense
                output), True where to leave the target out (padding).

        Returns:
            `self`, with `qhat_` set.

        Raises:
            TypeError: `y` is not numeric.
            ValueError: bad shapes or values (the targets of a dense output
                not `(n, *dims[, outputs])`), an `ignore` that is not such a
                mask or leaves out every target, or `eps == 0` with a zero
                standard deviation.
        """
        _array(result, "regression")  # checks `result` before the targets
        rows, y_rows = pooled(result, y, ignore, targets=True)
        mean, scale = self._mean_scale(rows)
        y_arr = np.asarray(y_rows)
        if not (np.issubdtype(y_arr.dtype, np.floating) or np.issubdtype(y_arr.dtype, np.integer)):
            raise TypeError(
                "Invalid value received for argument `y`. Expected numeric "
                f"targets. Received: y of dtype {y_arr.dtype}"
            )
        if y_arr.ndim == 1:
            y_arr = y_arr[:, None]
        if y_arr.shape != mean.shape or not np.all(np.isfinite(y_arr)):
            raise ValueError(
                "Invalid value received for argument `y`. Expected finite targets "
                f"of shape ({mean.shape[0]},) or {mean.shape}. Received: shape={np.shape(y)}"
            )
        if np.any(scale <= 0):
            raise ValueError(
                "Invalid value received for argument `eps`. Expected a positive "
                "number: some inputs have an MC standard deviation of 0. Received: eps=0"
            )
        scores = np.abs(y_arr - mean) / scale
        self.qhat_ = np.array([conformal_quantile(scores[:, j], self.alpha) for j in range(scores.shape[1])])
        return self

    def predict_interval(self, result: MCResult | ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Intervals for new inputs.

        Args:
            result: An `MCResult` (regression) or array `(n, outputs, samples)`
                or `(n, *dims, outputs, samples)`.

        Returns:
            `(lower, upper)`, `float64` arrays of shape `(n, outputs)`, or
            `(n, *dims, outputs)` for a dense output (infinite when there
            were too few calibration inputs for `alpha`).

        Raises:
            ValueError: called before `fit`, or the number of outputs differs.
        """
        if not hasattr(self, "qhat_"):
            raise ValueError("This ConformalRegressor is not fitted yet. Call `fit(result, y)` first.")
        lead = _array(result, "regression").shape[:-2]
        mean, scale = self._mean_scale(result)
        if mean.shape[1] != len(self.qhat_):
            raise ValueError(
                "Invalid value received for argument `result`. Expected "
                f"{len(self.qhat_)} outputs (as in fit). Received: {mean.shape[1]}"
            )
        half = self.qhat_[None, :] * scale
        return _unrows(mean - half, lead), _unrows(mean + half, lead)

    def __repr__(self) -> str:
        return f"<ConformalRegressor alpha={self.alpha} eps={self.eps}>"

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: the promise and the fitted thresholds."""
        from mcbridge import _html

        rows = [("coverage promised", f"{1 - self.alpha:.0%} of true values in their intervals (alpha = {self.alpha:g})")]
        if not hasattr(self, "qhat_"):
            return _html.table("ConformalRegressor (not fitted)", rows, "Call fit(result, y) on held-out data.")
        rows.append(("thresholds qhat", ", ".join(f"{q:.4g}" for q in self.qhat_) + " (in units of the MC std)"))
        return _html.table("ConformalRegressor", rows, "predict_interval(result) gives (lower, upper) per input and output.")
