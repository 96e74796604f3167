# Old names, kept for one version as deprecated aliases.

#' Deprecated names
#'
#' These names were renamed so that every function for the work starts with
#' `mc_`: `set_mc_dropout()` is now [mc_set_dropout()], `read_mc_arrow()` is
#' [mc_read_arrow()] and `write_mc_arrow()` is [mc_write_arrow()]; and
#' `mc_max_probability()`, which returns `1 - max p`, is now
#' [mc_one_minus_max_probability()], named by what it returns. The old
#' names still work, with a warning, and will be removed in the next version.
#'
#' @param ... Passed to the new function.
#' @return What the new function returns.
#' @keywords internal
#' @name mcbridge-deprecated
#' @examples
#' f <- tempfile(fileext = ".arrow")
#' suppressWarnings(write_mc_arrow(1:3, f))
#' suppressWarnings(read_mc_arrow(f))
NULL

#' @rdname mcbridge-deprecated
#' @export
set_mc_dropout <- function(...) {
  .Deprecated("mc_set_dropout", package = "mcbridge")
  mc_set_dropout(...)
}

#' @rdname mcbridge-deprecated
#' @export
read_mc_arrow <- function(...) {
  .Deprecated("mc_read_arrow", package = "mcbridge")
  mc_read_arrow(...)
}

#' @rdname mcbridge-deprecated
#' @export
write_mc_arrow <- function(...) {
  .Deprecated("mc_write_arrow", package = "mcbridge")
  mc_write_arrow(...)
}

#' @rdname mcbridge-deprecated
#' @export
mc_max_probability <- function(...) {
  .Deprecated("mc_one_minus_max_probability", package = "mcbridge")
  mc_one_minus_max_probability(...)
}
