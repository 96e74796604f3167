#' mcbridge: Monte Carlo dropout uncertainty for Keras models
#'
#' Build, train and run Monte Carlo dropout predictions from R on the
#' `mcbridge` Python engine. Python is started on the first call that needs it
#' (see [mcbridge_python()] for how it is found and [install_mcbridge()] to set
#' it up). Arrays cross between R and Python through the Arrow C data
#' interface, never element by element.
#'
#' @keywords internal
#' @useDynLib mcbridge, .registration = TRUE
"_PACKAGE"
