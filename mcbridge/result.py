"""The result of an MC prediction: samples and their summaries, in pure NumPy.

Importing this module imports no TensorFlow or Keras, so the Arrow readers,
the R bridge and any tool that made its own samples can use `MCResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mcbridge import metrics as _metrics
from mcbridge._checks import TASKS  # the tasks a result can be for (one list for every module)

__all__ = ["MCResult", "TASKS"]

# Classification samples are probabilities that sum to 1 over the classes
# axis (the last but one); regression samples are real-valued outputs.


def _check_finite(name: str, values: np.ndarray, n_used: np.ndarray | None = None) -> None:
    """Raises ValueError naming the inputs whose `values[i]` hold NaN or infinity.

    With `n_used` `(n,)`, only the first `n_used[i]` samples (last axis) of
    input `i` count: the rest is an adaptive result's NaN padding.
    """
    bad = []
    axes = tuple(range(1, values.ndim))
    for i in range(0, values.shape[0], 4096):  # bool temporaries of 4,096 inputs at a time
        ok = np.isfinite(values[i : i + 4096])  # (all over axes, not a reshape: that copies a Fortran-ordered cube)
        if n_used is not None:
            ok |= np.arange(values.shape[-1]) >= n_used[i : i + 4096].reshape((-1,) + (1,) * (values.ndim - 1))
        bad.extend((np.flatnonzero(~ok.all(axis=axes)) + i).tolist())
    if bad:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected finite numbers. Received: "
            f"NaN or infinite values in {len(bad)} of {values.shape[0]} inputs (first: input {bad[0]}). "
            "A model gives NaN after training diverged or for NaN inputs: check the inputs "
            "(np.isfinite(x).all()) and the model's outputs."
        )


def _rows(a: np.ndarray, d: int) -> np.ndarray:
    """`a` `(n, *dims, ...)` with `d` dims as `(n * positions, ...)`: each position a row (Fortran order, no copy)."""
    return a if not d else a.reshape((-1, *a.shape[1 + d :]), order="F")


def _unrows(a: np.ndarray, lead: tuple) -> np.ndarray:
    """The inverse of `_rows`: `(n * positions, ...)` back to `(*lead, ...)`."""
    return a if len(lead) == 1 else a.reshape((*lead, *a.shape[1:]), order="F")


def _variance(samples: np.ndarray) -> np.ndarray:
    """Unbiased variance (ddof = 1) over the last axis of `(rows, classes, samples)`, float64; NaN for one sample."""
    if samples.shape[-1] < 2:
        return np.full(samples.shape[:-1], np.nan)
    out = np.empty(samples.shape[:-1])
    for i in range(0, len(samples), 4096):  # two-pass, in blocks of rows: float64 temporaries stay small
        block = samples[i : i + 4096]
        dev = block - block.mean(axis=-1, dtype=np.float64)[..., None]
        out[i : i + 4096] = np.einsum("ics,ics->ic", dev, dev)
    return out / (samples.shape[-1] - 1)


def _entropies(p: np.ndarray) -> np.ndarray:
    """Entropy (nats) over axis 1 of `p` `(rows, classes, ...)`, float64, with 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)


def _jackknife_se(samples: np.ndarray, measure: str) -> np.ndarray:
    """Jackknife standard error of the predictive entropy or mutual information of `(rows, classes, samples)`."""
    s = samples.shape[-1]
    out = np.full(samples.shape[0], np.nan)
    if s < 2:
        return out
    for i in range(0, len(samples), 1024):
        p = samples[i : i + 1024].astype(np.float64)
        mean = p.mean(axis=-1)
        loo_pe = _entropies((s * mean[..., None] - p) / (s - 1))  # (rows, samples): leaving out sample j
        if measure == "predictive_entropy":
            loo = loo_pe
        else:
            h = _entropies(p)  # (rows, samples): each sample's entropy
            loo_ee = (h.sum(axis=-1, keepdims=True) - h) / (s - 1)
            loo = loo_pe - loo_ee if measure == "mutual_information" else loo_ee
        dev = loo - loo.mean(axis=-1, keepdims=True)
        out[i : i + 1024] = np.sqrt((s - 1) / s * (dev**2).sum(axis=-1))
    return out


class MCResult:
    """Monte Carlo samples and their summaries.

    `MCResult(samples)` builds one from any array, so samples made by another
    tool get the same measures, Arrow files and R functions.

    Args:
        samples: Array of shape `(n, classes, samples)` (classification:
            class probabilities) or `(n, outputs, samples)` (regression); a
            dense model output (a segmentation map, a tagged sequence) has
            positions before the classes, `(n, *dims, classes, samples)`.
            Stored as `float32`; an `F`-ordered array is kept without a copy.
        task: `"classification"` (default) or `"regression"`; it decides
            which measures apply.
        class_names: Optional names of the classes (or outputs), one per
            entry of the classes axis.
        noise_variance: Regression only, optional: the variance of the noise
            around each sample's output as the model predicts it (a
            heteroscedastic model's exponentiated log-variance head), same
            shape as `samples`. It splits the predictive variance into its
            aleatoric part (`aleatoric_variance`, the mean predicted noise)
            and its epistemic part (`epistemic_variance`, the spread of the
            sampled means), after the law of total variance.
        n_used: Optional `(n,)` counts: input `i` has its first `n_used[i]`
            samples; the rest of its samples are NaN (adaptive sampling).

    Every summary keeps the leading `(n, *dims)`: `mean` and `variance` are
    `(n, *dims, classes)`, `predicted_class` and the uncertainty scores
    `(n, *dims)`.

    Adaptive sampling (`mc_predict(..., tolerance=...)`) gives inputs
    different numbers of samples: `n_used[i]` says how many; `samples[i]`
    holds them first and NaN after (a padded cube), and every measure here
    uses exactly each input's own samples.

    Attributes:
        n_used: `int64` `(n,)`: the samples of each input, or None when
            every input has `n_samples` (a fixed-size run).
        samples: `float32` array of shape `(n, *dims, classes, samples)`;
            `samples[i, c, s]` is output `c` for input `i` in sample `s`.
            `mc_predict` produces it in column-major (Fortran) order, the
            layout R arrays use, so it crosses to R without a transpose.
        noise_variance: The predicted noise variance (regression from a
            heteroscedastic model), shape of `samples`, or None.

    Raises:
        ValueError: `samples` has fewer than 3 axes or holds NaN or infinite
            values, or `task`, `class_names` or `noise_variance` is invalid.
    """

    #: The rule `_repr_html_` counts "uncertain" inputs by: predictive entropy
    #: above this fraction of its maximum, `ln(classes)`.
    UNCERTAIN_FRACTION = 0.5
    #: Above this many values, `_repr_html_` shows the shape only (no measures).
    REPR_MAX_VALUES = 200_000_000

    def __init__(
        self,
        samples,
        task: str = "classification",
        class_names: Sequence[str] | None = None,
        noise_variance=None,
        n_used=None,
    ):
        samples = np.asarray(samples)
        if samples.ndim < 3:
            raise ValueError(
                "Invalid value received for argument `samples`. Expected an "
                f"array of shape (n, classes, samples) or (n, *dims, classes, samples). "
                f"Received: shape={samples.shape}"
            )
        if task not in TASKS:
            raise ValueError(
                "Invalid value received for argument `task`. Expected one of "
                f"{', '.join(map(repr, TASKS))}. Received: task={task!r}"
            )
        if class_names is not None:
            class_names = tuple(str(c) for c in class_names)
            if len(class_names) != samples.shape[-2]:
                raise ValueError(
                    "Invalid value received for argument `class_names`. Expected "
                    f"{samples.shape[-2]} names (one per class: axis {samples.ndim - 2} of `samples`). "
                    f"Received: {len(class_names)} names"
                )
        if noise_variance is not None:
            noise_variance = np.asarray(noise_variance)
            if task != "regression" or noise_variance.shape != samples.shape:
                raise ValueError(
                    "Invalid value received for argument `noise_variance`. Expected "
                    f"an array of shape {samples.shape} (that of `samples`) for "
                    f"task='regression'. Received: shape={noise_variance.shape}, task={task!r}"
                )
            with np.errstate(over="ignore"):
                noise_variance = noise_variance.astype(np.float32, copy=False)
            _check_finite("noise_variance", noise_variance)
        with np.errstate(over="ignore"):  # beyond float32's range: inf, refused just below
            samples = samples.astype(np.float32, copy=False)
        if n_used is not None:
            n_used = np.asarray(n_used)
            if n_used.shape != samples.shape[:1] or n_used.dtype.kind not in "iu" or (
                n_used.size and (n_used.min() < 1 or n_used.max() > samples.shape[-1])
            ):
                raise ValueError(
                    "Invalid value received for argument `n_used`. Expected one count per input, "
                    f"integers in 1..{samples.shape[-1]} (shape ({samples.shape[0]},)). "
                    f"Received: shape={n_used.shape}, dtype={n_used.dtype}"
                )
            n_used = n_used.astype(np.int64)
        _check_finite("samples", samples, n_used)
        self.samples = samples
        self.noise_variance = noise_variance
        self.task = task
        self.class_names = class_names
        self.n_used = n_used
        self._cache: dict[str, np.ndarray] = {}

    n = property(lambda self: self.samples.shape[0], doc="Number of inputs.")
    dims = property(lambda self: self.samples.shape[1:-2], doc="Positions per input (`()` unless a dense output).")
    n_classes = property(lambda self: self.samples.shape[-2], doc="Number of classes (or outputs).")
    n_samples = property(
        lambda self: self.samples.shape[-1],
        doc="Number of MC samples (the most any input got: see `n_used`).",
    )

    def _by_count(self, fn: Callable[[np.ndarray], np.ndarray], values: np.ndarray | None = None) -> np.ndarray:
        """`fn(values)` with each input's own samples: `values[i, ..., :n_used[i]]` (all of them without `n_used`)."""
        values = self.samples if values is None else values
        if self.n_used is None or self.n == 0:
            return fn(values)
        out = None
        for count in np.unique(self.n_used):
            idx = np.flatnonzero(self.n_used == count)
            part = fn(values[idx, ..., :count])
            if out is None:
                out = np.empty((self.n, *part.shape[1:]), part.dtype)
            out[idx] = part
        return out

    def _per_row(self, measure: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`measure` of `(rows, classes, samples)` applied at every input and position: `(n, *dims)`."""
        d = len(self.dims)
        return self._by_count(lambda a: _unrows(measure(_rows(a, d)), a.shape[: 1 + d]))

    def _cached(self, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _classification_only(self, what: str) -> None:
        if self.task != "classification":
            raise ValueError(
                f"`{what}` needs class probabilities, but this result is for "
                f"task={self.task!r}. Use `mean`, `variance` and `std` (and "
                "mcbridge.metrics' regression measures) instead."
            )

    @property
    def mean(self) -> np.ndarray:
        """Mean over samples: `float64` array of shape `(n, *dims, classes)`."""
        return self._cached("mean", lambda: self._by_count(lambda a: a.mean(axis=-1, dtype=np.float64)))

    @property
    def variance(self) -> np.ndarray:
        """Unbiased sample variance over samples (ddof = 1, as R's `var()`).

        `float64` array of shape `(n, *dims, classes)`; NaN when `n_samples == 1`.
        """

        d = len(self.dims)
        return self._cached("variance", lambda: self._by_count(lambda a: _unrows(_variance(_rows(a, d)), a.shape[: 1 + d])))

    @property
    def std(self) -> np.ndarray:
        """Square root of `variance`, shape `(n, *dims, classes)`."""
        return np.sqrt(self.variance)

    @property
    def counts(self) -> np.ndarray:
        """Samples each input got, `int64` `(n,)`: `n_used`, or `n_samples` for every input."""
        return self.n_used if self.n_used is not None else np.full(self.n, self.n_samples, np.int64)

    def mc_standard_error(self, measure: str = "mean") -> np.ndarray:
        """The Monte Carlo standard error of a summary: how much it would move with other samples.

        Args:
            measure: `"mean"`: of the mean probabilities (or outputs),
                `std / sqrt(samples)`, shape `(n, *dims, classes)`;
                `"predictive_entropy"`, `"expected_entropy"` or
                `"mutual_information"`: of that estimate, by the jackknife
                over samples (leave one sample out), shape `(n, *dims)`.
                Each input's own count of samples (`n_used`) is used.

        Returns:
            float64 array; NaN where an input has one sample.

        Raises:
            ValueError: an unknown `measure`, or an entropy of a regression result.
        """
        if measure == "mean":
            counts = self.counts.reshape((-1,) + (1,) * (self.samples.ndim - 2))
            return self.std / np.sqrt(counts)
        if measure not in ("predictive_entropy", "expected_entropy", "mutual_information"):
            raise ValueError(
                "Invalid value received for argument `measure`. Expected 'mean', 'predictive_entropy', "
                f"'expected_entropy' or 'mutual_information'. Received: measure={measure!r}"
            )
        self._classification_only(f"mc_standard_error({measure!r})")
        return self._cached(f"se_{measure}", lambda: self._per_row(lambda rows: _jackknife_se(rows, measure)))

    def _noise_only(self, what: str) -> None:
        if self.noise_variance is None:
            raise ValueError(
                f"`{what}` needs the noise variance a heteroscedastic model predicts, "
                "and this result has none. Predict with a model whose output holds "
                "means and log-variances: mc_predict(..., task=\"regression\", "
                "heteroscedastic=True)."
            )

    @property
    def aleatoric_variance(self) -> np.ndarray:
        """Mean over samples of the predicted noise variance: `float64` `(n, *dims, outputs)`.

        Raises:
            ValueError: the result has no `noise_variance`.
        """
        self._noise_only("aleatoric_variance")
        return self._cached(
            "aleatoric", lambda: self._by_count(lambda a: a.mean(axis=-1, dtype=np.float64), self.noise_variance)
        )

    @property
    def epistemic_variance(self) -> np.ndarray:
        """The spread of the sampled outputs: `variance` (ddof = 1), `(n, *dims, outputs)`."""
        return self.variance

    @property
    def predictive_variance(self) -> np.ndarray:
        """`epistemic_variance + aleatoric_variance`, shape `(n, *dims, outputs)`.

        Raises:
            ValueError: the result has no `noise_variance`.
        """
        return self.epistemic_variance + self.aleatoric_variance

    @property
    def predictive_std(self) -> np.ndarray:
        """Square root of `predictive_variance`, shape `(n, *dims, outputs)`."""
        return np.sqrt(self.predictive_variance)

    @property
    def predicted_class(self) -> np.ndarray:
        """Class with the highest mean probability, `int64` array of shape `(n, *dims)`.

        Raises:
            ValueError: the result is not for classification.
        """
        self._classification_only("predicted_class")
        return self.mean.argmax(axis=-1)

    def predictive_entropy(self) -> np.ndarray:
        """See `mcbridge.metrics.predictive_entropy`; shape `(n, *dims)`."""
        self._classification_only("predictive_entropy")
        return self._per_row(_metrics.predictive_entropy)

    def expected_entropy(self) -> np.ndarray:
        """See `mcbridge.metrics.expected_entropy`; shape `(n, *dims)`."""
        self._classification_only("expected_entropy")
        return self._per_row(_metrics.expected_entropy)

    def mutual_information(self) -> np.ndarray:
        """See `mcbridge.metrics.mutual_information`; shape `(n, *dims)`."""
        self._classification_only("mutual_information")
        return self._per_row(_metrics.mutual_information)

    def variation_ratio(self) -> np.ndarray:
        """See `mcbridge.metrics.variation_ratio`; shape `(n, *dims)`."""
        self._classification_only("variation_ratio")
        return self._per_row(_metrics.variation_ratio)

    def __len__(self) -> int:
        return self.n

    def _repr_class_names(self) -> str:
        if self.class_names is None:
            return ""
        names = ", ".join(repr(c) for c in self.class_names[:10])
        more = f", ... ({len(self.class_names)} in all)" if len(self.class_names) > 10 else ""
        return f" class_names=[{names}{more}]"

    def _repr_html_(self) -> str:
        """A compact HTML summary for notebooks: shape, task, class names, uncertainty."""
        from mcbridge import _html

        what = "classes" if self.task == "classification" else "outputs"
        at = f" x {' x '.join(map(str, self.dims))} positions" if self.dims else ""
        rows = [
            ("shape", f"{self.n} inputs{at} x {self.n_classes} {what} x {self.n_samples} samples "
                      f"(n, {'*dims, ' if self.dims else ''}{what}, samples), {self.samples.dtype}"),
            ("task", self.task),
        ]  # fmt: skip
        if self.n_used is not None:
            rows.append(("samples per input", f"{self.n_used.min()} to {self.n_used.max()} "
                                              f"(mean {self.n_used.mean():.1f}): adaptive sampling, n_used"))
        if self.n and self.samples.size <= self.REPR_MAX_VALUES and self.counts.min() > 1:
            rows.append(("MC standard error of the mean", f"{self.mc_standard_error().mean():.4g} on average, "
                                                           f"{self.mc_standard_error().max():.4g} at most"))
        if self.class_names is not None:
            rows.append(("class names" if self.task == "classification" else "output names",
                         _html.names(self.class_names)))  # fmt: skip
        note = None
        if self.n == 0 or self.samples.size > self.REPR_MAX_VALUES:
            note = "Measures are left out of this summary for empty or very large results; call them by name."
        elif self.task == "classification":
            pe, mi = self.predictive_entropy(), self.mutual_information()
            limit = self.UNCERTAIN_FRACTION * np.log(self.n_classes)
            uncertain = int(np.sum(pe > limit))
            disagree = int(np.sum(self.variation_ratio() > 0))
            units, total = ("positions", pe.size) if self.dims else ("inputs", self.n)
            spread = self.counts.min() > 1  # (a standard error needs two samples)
            se_pe = f"; MC standard error per input {self.mc_standard_error('predictive_entropy').mean():.4f}" if spread else ""
            se_mi = f"; MC standard error per input {self.mc_standard_error('mutual_information').mean():.4f}" if spread else ""
            rows += [
                ("mean predictive entropy", f"{pe.mean():.4f} nats (max ln {self.n_classes} = {np.log(self.n_classes):.3f})"
                                            + se_pe),
                ("mean mutual information", f"{mi.mean():.4f} nats (epistemic part, BALD)" + se_mi),
                (f"uncertain {units}", f"{uncertain} of {total} ({uncertain / total:.1%}): predictive entropy "
                                     f"> {self.UNCERTAIN_FRACTION:g} x ln {self.n_classes} = {limit:.3f} nats"),
                ("samples disagree", f"{disagree} of {total} {units}: the samples do not all pick the same class"),
            ]  # fmt: skip
            note = "mcbridge.select_uncertain(result, k) lists the most uncertain inputs (BALD)."
        else:
            rows.append(("mean std over samples", f"{self.std.mean():.4g} (epistemic)"))
            if self.noise_variance is not None:
                rows.append(("mean predicted noise std", f"{np.sqrt(self.aleatoric_variance).mean():.4g} (aleatoric)"))
        return _html.table("MCResult", rows, note)

    def __repr__(self) -> str:
        return (
            f"<MCResult task={self.task} n={self.n}"
            + (f" dims={self.dims}" if self.dims else "")
            + f" classes={self.n_classes} "
            f"samples={self.n_samples}"
            + (f" n_used={self.n_used.min()}..{self.n_used.max()}" if self.n_used is not None and self.n else "")
            + f" dtype={self.samples.dtype}"
            + self._repr_class_names()
            + ">"
        )
