"""Progress bars for long work, in terminals and notebook kernels alike.

`progress_bar(progress, total, work=...)` returns a bar counting `total`
units (inputs), or None. With `progress=None` a bar is shown when the work
is long (`work >= LONG_WORK`, e.g. inputs x samples) and someone watches:
stderr is a terminal, or the code runs in a Jupyter/IPython kernel (whose
stderr is no terminal). The bar is `tqdm.auto`'s (a widget in notebooks with
ipywidgets, text in terminals and kernels without them), or Keras' `Progbar`
where tqdm is missing.

`report_to(callback)` sends every bar made inside it to `callback(done,
total)` instead, at most every `REPORT_INTERVAL` seconds and once at the
end (R draws its own bar this way).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

#: `progress=None` shows a bar from this much work (input-samples) on.
LONG_WORK = 200_000
#: Seconds between two calls of a `report_to` callback.
REPORT_INTERVAL = 0.2

_REPORT: contextvars.ContextVar[Callable[[int, int], Any] | None] = contextvars.ContextVar(
    "mcbridge_progress_report", default=None
)


@contextlib.contextmanager
def report_to(callback: Callable[[int, int], Any]) -> Iterator[None]:
    """Inside the block, progress bars call `callback(done, total)` instead of drawing."""
    token = _REPORT.set(callback)
    try:
        yield
    finally:
        _REPORT.reset(token)


def in_kernel() -> bool:
    """True when running in a Jupyter/IPython kernel (a notebook, VS Code, Colab)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython
        return False
    return getattr(shell, "kernel", None) is not None


def watched() -> bool:
    """True when someone probably watches: a notebook kernel, or stderr is a terminal."""
    if in_kernel():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(progress: bool | None, total: int | None, *, work: int | None = None, unit: str = "input"):
    """A bar counting `total` units, or None when no bar is wanted.

    Args:
        progress: True (a bar), False (none) or None (a bar when `work >=
            LONG_WORK` and `watched()`).
        total: Units in all (e.g. inputs); None: unknown (a counter).
        work: Size of the job for `progress=None` (default `total`).
        unit: Name of one unit, shown by the bar.

    Returns:
        None, or a bar with `update(done)` (`done`: units finished so far; at
        `total` the bar closes itself) and `close()`.
    """
    if progress is None:
        size = total if work is None else work
        progress = size is not None and size >= LONG_WORK and watched()
    if not progress or total == 0:
        return None
    report = _REPORT.get()
    if report is not None:
        return _Reporting(report, total)
    legacy = _replaced_progbar()
    if legacy is not None:
        return _Progbar(legacy(total, unit_name=unit))
    try:
        with warnings.catch_warnings():  # tqdm.auto warns in a kernel without ipywidgets
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm
    except ImportError:
        import keras

        return _Progbar(keras.utils.Progbar(total, unit_name=unit))
    return _Tqdm(tqdm(total=total, unit=unit, leave=True, dynamic_ncols=True))


def _replaced_progbar():
    """`keras.utils.Progbar` if code outside Keras replaced it (an older R hook), else None."""
    keras = sys.modules.get("keras")
    bar = getattr(getattr(keras, "utils", None), "Progbar", None)
    if bar is None or str(getattr(bar, "__module__", "keras")).startswith("keras"):
        return None
    return bar


class _Tqdm:
    def __init__(self, bar):
        self.bar = bar

    def update(self, done: int) -> None:
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        if self.bar.total is not None and done >= self.bar.total:
            self.close()

    def close(self) -> None:
        self.bar.close()


class _Progbar:
    def __init__(self, bar):
        self.bar = bar

    def update(self, done: int) -> None:
        self.bar.update(done)

    def close(self) -> None:
        pass


class _Reporting:
    def __init__(self, report: Callable[[int, int], Any], total: int):
        self.report, self.total, self.last = report, int(total or 0), float("-inf")

    def update(self, done: int) -> None:
        now = time.monotonic()
        if 0 < self.total <= done or now - self.last >= REPORT_INTERVAL:
            self.last = now
            self.report(int(done), self.total)

    def close(self) -> None:
        pass
