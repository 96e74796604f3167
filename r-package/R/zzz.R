# Load hooks: they only declare. No Python starts when the package loads.

# The delayed Python modules (convert = FALSE: arrays cross by Arrow, never
# by reticulate's NumPy conversion, which fails with reticulate < 1.38 and
# NumPy 2). Resolved on first use by .mcb() / .bridge().
mcbridge <- NULL
.rbridge <- NULL

.state <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  # Python may already run (the user called reticulate::import("keras") or
  # py_config() first): then nothing is imported here, so loading never
  # fails; the first call imports mcbridge and, if that Python lacks it,
  # says which Python runs and how to fix it (.python_missing_message()).
  if (reticulate::py_available(initialize = FALSE)) return(invisible())
  .declare_python()
  on_error <- function(e) .abort(.python_missing_message(e), "python")
  mcbridge <<- reticulate::import("mcbridge", convert = FALSE,
                                  delay_load = list(on_error = on_error))
  .rbridge <<- reticulate::import("mcbridge._rbridge", convert = FALSE,
                                  delay_load = list(on_error = on_error))
}
