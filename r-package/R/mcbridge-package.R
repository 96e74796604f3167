#' mcbridge: Monte Carlo dropout uncertainty for Keras models
#'
#' Build, train and run Monte Carlo dropout predictions from R on the
#' `mcbridge` Python engine. Python is started on the first call that needs it
#' (see [mcbridge_python()] for how it is found and [install_mcbridge()] to set
#' it up).
#'
#' @section Names:
#' Functions that do the work start with `mc_` and mirror the Python names
#' (`mc_predict()`, `mc_fit()`, `mc_set_dropout()`, `mc_read_arrow()`, ...);
#' `mc_cnn()` is Python's `build_cnn()`. Setup functions follow the keras3 /
#' reticulate habit: `install_mcbridge()`, `mcbridge_available()`,
#' `mcbridge_python()`. Functions take the model first, so they pipe. Renamed
#' functions stay for one version as deprecated aliases
#' ([mcbridge-deprecated]).
#'
#' @section One call, one crossing:
#' Each R call checks its arguments in R (errors are classed conditions,
#' `mcbridge_error` and its subclasses `mcbridge_error_argument`,
#' `_input`, `_model`, `_arrow`, `_io`, `_python`) and then calls Python
#' once (`mcbridge._rbridge`). Arrays cross through the Arrow C data
#' interface: R's input is narrowed to float32 once and read by Python in
#' place; the samples are read by R in place and widened to doubles once.
#'
#' @section Python:
#' Tested with reticulate 1.28 (Debian 12) and NumPy 2, where arrays cannot
#' cross by reticulate's own conversion (hence Arrow). On reticulate >= 1.41,
#' when no Python is configured, the package declares its requirement with
#' `reticulate::py_require("mcbridge")` at load (written from reticulate's
#' documentation, not tested here).
#'
#' @keywords internal
#' @useDynLib mcbridge, .registration = TRUE
"_PACKAGE"
