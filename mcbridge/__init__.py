"""mcbridge: Monte Carlo dropout uncertainty for Keras 3 models, from Python and R.

Quick start:
    >>> import mcbridge
    >>> model = mcbridge.build_cnn()            # runtime-switchable dropout
    >>> model.fit(x_train, y_train, epochs=1)
    >>> result = mcbridge.mc_predict(model, x_test, n_samples=30)
    >>> result.samples.shape                    # (n, classes, samples)
    >>> result.mean, result.variance, result.mutual_information()
    >>> mcbridge.write_arrow(result, "samples.arrow")  # R: read_mc_arrow()

Names are imported on first use, so `import mcbridge` (and the NumPy-only
parts: `MCResult`, `metrics`, `arrow`) start no TensorFlow. The first name
that needs Keras imports it and registers mcbridge's layers for loading;
`mcbridge.load_model()` loads a saved model with them. If Keras is already
imported when mcbridge is, the layers are registered at once.

`mcbridge.plots` (matplotlib), `mcbridge.report` and `mcbridge.spark`
(pyspark) are reachable after `import mcbridge` and import their optional
dependency on first use. `mcbridge.export(model, path)` writes a TensorFlow
SavedModel that serves MC summaries (the module is callable). `mcbridge.r`
(needs the optional rpy2) hands results to an embedded R session.

Imported before TensorFlow, mcbridge keeps TensorFlow's C++ start-up log lines
off the console (`mcbridge._tflog`; a `TF_CPP_MIN_LOG_LEVEL` you set stands).
"""

from __future__ import annotations

import importlib
import sys

from mcbridge import _tflog

_tflog.quiet_start()

__version__ = "0.1.0"

# Public name -> the module that defines it (a module itself when equal).
_EXPORTS = {
    "ArrowWriter": "mcbridge.arrow",
    "read_arrow": "mcbridge.arrow",
    "write_arrow": "mcbridge.arrow",
    "MCResult": "mcbridge.result",
    "TemperatureScaler": "mcbridge.calibration",
    "ConformalClassifier": "mcbridge.conformal",
    "ConformalRegressor": "mcbridge.conformal",
    "make_switchable": "mcbridge.convert",
    "DropConnectConv2D": "mcbridge.layers",
    "DropConnectDense": "mcbridge.layers",
    "MCAlphaDropout": "mcbridge.layers",
    "MCDropout": "mcbridge.layers",
    "MCGRU": "mcbridge.layers",
    "MCLSTM": "mcbridge.layers",
    "MCSimpleRNN": "mcbridge.layers",
    "MCGaussianDropout": "mcbridge.layers",
    "MCSpatialDropout1D": "mcbridge.layers",
    "MCSpatialDropout2D": "mcbridge.layers",
    "MCSpatialDropout3D": "mcbridge.layers",
    "evaluate": "mcbridge.evaluation",
    "select_uncertain": "mcbridge.evaluation",
    "build_cnn": "mcbridge.models",
    "build_mlp": "mcbridge.models",
    "load_model": "mcbridge.models",
    "mc_predict": "mcbridge.predict",
    "predict_to_file": "mcbridge.stream",
    "mc_dropout": "mcbridge.switch",
    "mc_dropout_enabled": "mcbridge.switch",
    "set_mc_dropout": "mcbridge.switch",
    "Ensemble": "mcbridge.ensemble",
    "load_ensemble": "mcbridge.ensemble",
    "train_ensemble": "mcbridge.ensemble",
}
# Submodules reachable as `mcbridge.<name>` after `import mcbridge`, each imported
# on first use (PEP 562): the optional parts (`plots` needs matplotlib, `spark`
# pyspark) import their dependency only when a function is called.
_SUBMODULES = (
    "arrow", "calibration", "conformal", "datasets", "ensemble", "evaluation", "export", "layers", "metrics",
    "plots", "report", "result", "spark", "stream",
)  # fmt: skip

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"mcbridge.{name}")
    elif name in _EXPORTS:
        module = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'mcbridge' has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__():
    return sorted({*globals(), *__all__})


if "keras" in sys.modules:  # Keras is loaded anyway: make saved models loadable now
    importlib.import_module("mcbridge.layers")
