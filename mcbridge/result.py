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


def _check_finite(name: str, values: np.ndarray) -> None:
    """Raises ValueError naming the inputs whose `values[i]` hold NaN or infinity."""
    bad = []
    for i in range(0, values.shape[0], 4096):  # a bool temporary of 4,096 inputs at a time
        block = np.isfinite(values[i : i + 4096]).reshape(len(values[i : i + 4096]), -1).all(axis=1)
        bad.extend((np.flatnonzero(~block) + i).tolist())
    if bad:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected finite numbers. Received: "
            f"NaN or infinite values in {len(bad)} of {values.shape[0]} inputs (first: input {bad[0]}). "
            "A model gives NaN after training diverged or for NaN inputs: check the inputs "
            "(np.isfinite(x).all()) and the model's outputs."
        )


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

    Every summary keeps the leading `(n, *dims)`: `mean` and `variance` are
    `(n, *dims, classes)`, `predicted_class` and the uncertainty scores
    `(n, *dims)`.

    Attributes:
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
        _check_finite("samples", samples)
        self.samples = samples
        self.noise_variance = noise_variance
        self.task = task
        self.class_names = class_names
        self._cache: dict[str, np.ndarray] = {}

    n = property(lambda self: self.samples.shape[0], doc="Number of inputs.")
    dims = property(lambda self: self.samples.shape[1:-2], doc="Positions per input (`()` unless a dense output).")
    n_classes = property(lambda self: self.samples.shape[-2], doc="Number of classes (or outputs).")
    n_samples = property(lambda self: self.samples.shape[-1], doc="Number of MC samples.")

    def _rows(self, a: np.ndarray) -> np.ndarray:
        """`a` `(n, *dims, ...)` as `(n * positions, ...)`: each position a row (Fortran order, no copy of `samples`)."""
        return a if not self.dims else a.reshape((-1, *a.shape[1 + len(self.dims) :]), order="F")

    def _unrows(self, a: np.ndarray) -> np.ndarray:
        """The inverse of `_rows`."""
        return a if not self.dims else a.reshape((self.n, *self.dims, *a.shape[1:]), order="F")

    def _per_row(self, measure: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """`measure` of `(rows, classes, samples)` applied at every input and position: `(n, *dims)`."""
        return self._unrows(measure(self._rows(self.samples)))

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
        return self._cached("mean", lambda: self.samples.mean(axis=-1, dtype=np.float64))

    @property
    def variance(self) -> np.ndarray:
        """Unbiased sample variance over samples (ddof = 1, as R's `var()`).

        `float64` array of shape `(n, *dims, classes)`; NaN when `n_samples == 1`.
        """

        def compute():
            if self.n_samples < 2:
                return np.full(self.samples.shape[:-1], np.nan)
            # Two-pass, in blocks of rows: float64 temporaries stay small.
            samples, mean = self._rows(self.samples), self._rows(self.mean)
            out = np.empty(samples.shape[:-1])
            for i in range(0, len(samples), 4096):
                dev = samples[i : i + 4096] - mean[i : i + 4096, :, None]
                out[i : i + 4096] = np.einsum("ics,ics->ic", dev, dev)
            return self._unrows(out / (self.n_samples - 1))

        return self._cached("variance", compute)

    @property
    def std(self) -> np.ndarray:
        """Square root of `variance`, shape `(n, *dims, classes)`."""
        return np.sqrt(self.variance)

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
        return self._cached("aleatoric", lambda: self.noise_variance.mean(axis=-1, dtype=np.float64))

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
            rows += [
                ("mean predictive entropy", f"{pe.mean():.4f} nats (max ln {self.n_classes} = {np.log(self.n_classes):.3f})"),
                ("mean mutual information", f"{mi.mean():.4f} nats (epistemic part, BALD)"),
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
            f"samples={self.n_samples} dtype={self.samples.dtype}"
            + self._repr_class_names()
            + ">"
        )
