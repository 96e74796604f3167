"""Hand MC results and arrays to an embedded R session (rpy2), by Arrow.

Needs the optional extra `r` (rpy2; `scripts/setup_r.sh` picks the version
that fits the R found) and the R packages `nanoarrow` and `mcbridge`.

Nothing is converted element by element: the data are exported with the Arrow
C data interface into structs that R's nanoarrow allocated, and the R package
turns them into the same objects its own functions return: an
`mc_prediction` (`list(mean, variance, all_samples)`, `dim(all_samples) ==
c(n, classes, samples)`) for an `MCResult`, an R array otherwise.

Example (a notebook that goes on in `%%R` cells):

```python
import mcbridge, mcbridge.r
res = mcbridge.mc_predict(model, x, n_samples=30)
mcbridge.r.assign("res", res)      # in R: res$mean, res$all_samples[1, , ]
```
"""

from __future__ import annotations

from typing import Any

from mcbridge import _rbridge, arrow

__all__ = ["to_r", "assign", "from_r"]

# Only public functions of the R packages: nanoarrow's struct allocation and
# export, mcbridge's mc_from_arrow() / mc_to_arrow().
_R_HELPERS = r"""
list(
  alloc = function() {
    a <- nanoarrow::nanoarrow_allocate_array()
    s <- nanoarrow::nanoarrow_allocate_schema()
    list(array = a, schema = s,
         array_addr = nanoarrow::nanoarrow_pointer_addr_chr(a),
         schema_addr = nanoarrow::nanoarrow_pointer_addr_chr(s))
  },
  import = function(ptrs) {
    nanoarrow::nanoarrow_array_set_schema(ptrs$array, ptrs$schema, validate = FALSE)
    mcbridge::mc_from_arrow(ptrs$array)
  },
  export = function(x) {
    batch <- mcbridge::mc_to_arrow(x)
    a <- nanoarrow::nanoarrow_allocate_array()
    s <- nanoarrow::nanoarrow_allocate_schema()
    nanoarrow::nanoarrow_pointer_export(nanoarrow::infer_nanoarrow_schema(batch), s)
    nanoarrow::nanoarrow_pointer_export(batch, a)
    list(array = a, schema = s,
         array_addr = nanoarrow::nanoarrow_pointer_addr_chr(a),
         schema_addr = nanoarrow::nanoarrow_pointer_addr_chr(s))
  }
)
"""

_helpers = None


def _r():
    """Returns (rpy2.robjects, R helper functions), loading the R packages."""
    global _helpers
    try:
        import rpy2.robjects as ro
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError(
            "mcbridge.r needs rpy2: run scripts/setup_r.sh (it picks the rpy2 "
            "version for your R), or `pip install 'mcbridge[r]'`."
        ) from e
    if _helpers is None:
        ok = ro.r(
            'suppressWarnings(requireNamespace("nanoarrow", quietly = TRUE) && '
            'requireNamespace("mcbridge", quietly = TRUE))'
        )[0]
        if not ok:
            raise RuntimeError(
                "The R packages 'nanoarrow' and 'mcbridge' must be installed in "
                "the R that rpy2 embeds; run scripts/setup_r.sh from the "
                "mcbridge repository."
            )
        _helpers = ro.r(_R_HELPERS)
    return ro, _helpers


def to_r(obj: Any, **kwargs):
    """Converts an `MCResult` or array to an R object (rpy2 proxy).

    Args:
        obj: An `MCResult` (becomes an R `mc_prediction`) or an array-like
            (becomes an R array; 1-d becomes a vector). R indices are
            Python's plus one: R `x[i, k, s]` is Python `x[i-1, k-1, s-1]`.
        **kwargs: Passed to `mcbridge.arrow.to_arrow` (`kind`, `dim_names`).

    Returns:
        The R object as an rpy2 object.
    """
    _, h = _r()
    ptrs = h.rx2("alloc")()
    _rbridge.export(
        obj, str(ptrs.rx2("array_addr")[0]), str(ptrs.rx2("schema_addr")[0]), **kwargs
    )
    return h.rx2("import")(ptrs)


def assign(name: str, obj: Any, env=None) -> None:
    """Puts an `MCResult` or array into R as variable `name`.

    Args:
        name: The R variable name.
        obj: An `MCResult` or array-like (see `to_r`).
        env: An rpy2 R environment (default: R's global environment).
    """
    ro, _ = _r()
    env = ro.globalenv if env is None else env
    env[name] = to_r(obj)


def from_r(x: Any):
    """Converts an R `mc_prediction`, array or vector back to Python.

    Args:
        x: An rpy2 R object, or the name of an R variable in the global
            environment.

    Returns:
        An `MCResult` for an `mc_prediction`, else a Fortran-ordered ndarray.
    """
    ro, h = _r()
    if isinstance(x, str):
        x = ro.globalenv.find(x)
    ptrs = h.rx2("export")(x)
    # A copy: the R objects behind the exported structs belong to R.
    return arrow.import_from_c(
        str(ptrs.rx2("array_addr")[0]), str(ptrs.rx2("schema_addr")[0]), copy=True
    )
