"""A quiet TensorFlow start: its C++ log lines stay off the user's console.

TensorFlow's C++ side logs informational lines to the process's standard
error: at import ("oneDNN custom operations are on", the `cpu_feature_guard`
advice to rebuild TensorFlow, absl's "All log messages before
absl::InitializeLog()" banner) and at the first compiled call ("XLA service
... initialized", "Compiled cluster using XLA!"). They bypass Python (an R
console or a terminal shows them), say nothing a user can act on, and bury
mcbridge's own output.

`quiet_start()` runs when mcbridge is imported. Unless TensorFlow is already
imported (somebody else started it) or the user has set
`TF_CPP_MIN_LOG_LEVEL` (their choice stands), it sets that level to 1
(warnings and errors only), and the import of TensorFlow, whoever triggers
it, runs with the C-level standard error captured: its lines are written
back afterwards, all but the informational ones (absl's `I...` lines and its
banner), which the level set above cannot reach because they are logged
before TensorFlow reads it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile

#: The level set when the user has not chosen one: warnings and errors only.
LEVEL = "1"

_INFO = re.compile(rb"^I\d{4} [0-9:.]+ +\d+ [^\]]+\] ")
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def is_info_line(line: bytes) -> bool:
    """Whether `line` is one of TensorFlow's informational C++ log lines (or absl's banner)."""
    return bool(_INFO.match(line)) or line.rstrip(b"\r\n") == _BANNER


def quiet_start() -> None:
    """Sets TensorFlow's C++ log level and quiets its import, unless TensorFlow runs or the user chose a level."""
    if "tensorflow" in sys.modules or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = LEVEL
    if not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


class _QuietImport:
    """A one-shot import hook: finds `tensorflow` as usual and runs its import quietly."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if f is not self]
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module
        spec.loader.exec_module = lambda module: _without_info_lines(run, module)  # (this loader only)
        return spec


def _without_info_lines(run, module) -> None:
    """`run(module)` with file descriptor 2 captured; writes back all but the informational lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable standard error: nothing to quiet
        run(module)
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            run(module)
        finally:
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not is_info_line(line)]
            if kept:
                os.write(2, b"".join(kept))
