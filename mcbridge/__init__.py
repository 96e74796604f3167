"""mcbridge: Monte Carlo dropout uncertainty for Keras 3 models, from Python and R.

Quick start:
    >>> import mcbridge
    >>> model = mcbridge.build_cnn()            # runtime-switchable dropout
    >>> model.fit(x_train, y_train, epochs=1)
    >>> result = mcbridge.mc_predict(model, x_test, n_samples=30)
    >>> result.samples.shape                    # (n, classes, samples)
    >>> result.mean, result.variance, result.mutual_information()
    >>> mcbridge.write_arrow(result, "samples.arrow")  # R: read_mc_arrow()

`mcbridge.r` (needs the optional rpy2) hands results to an embedded R session.
"""

from mcbridge import arrow, datasets, layers, metrics
from mcbridge.arrow import ArrowWriter, read_arrow, write_arrow
from mcbridge.convert import make_switchable
from mcbridge.layers import (
    MCAlphaDropout,
    MCDropout,
    MCGaussianDropout,
    MCSpatialDropout1D,
    MCSpatialDropout2D,
    MCSpatialDropout3D,
)
from mcbridge.models import build_cnn
from mcbridge.predict import MCResult, mc_predict
from mcbridge.switch import mc_dropout, mc_dropout_enabled, set_mc_dropout

__version__ = "0.1.0"

__all__ = [
    "ArrowWriter",
    "MCAlphaDropout",
    "MCDropout",
    "MCGaussianDropout",
    "MCResult",
    "MCSpatialDropout1D",
    "MCSpatialDropout2D",
    "MCSpatialDropout3D",
    "arrow",
    "build_cnn",
    "datasets",
    "layers",
    "make_switchable",
    "mc_dropout",
    "mc_dropout_enabled",
    "mc_predict",
    "metrics",
    "read_arrow",
    "set_mc_dropout",
    "write_arrow",
]
