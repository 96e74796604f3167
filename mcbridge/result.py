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
        ValueError: `samples` has fewer than 3 axes, or `task`, `class_names` or
            `noise_variance` is invalid.
    """

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
            noise_variance = noise_variance.astype(np.float32, copy=False)
        self.samples = samples.astype(np.float32, copy=False)
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

    def __repr__(self) -> str:
        return (
            f"<MCResult task={self.task} n={self.n}"
            + (f" dims={self.dims}" if self.dims else "")
            + f" classes={self.n_classes} "
            f"samples={self.n_samples} dtype={self.samples.dtype}"
            + self._repr_class_names()
            + ">"
        )
