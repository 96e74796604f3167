# Time and peak memory of moving a (10000, 10, 100) float32 MC result from
# Python to R with mcbridge's Arrow routes.
#
#   Rscript benchmarks/bench_transfer.R [n classes samples] [repeats]
#
# Routes: C data interface (zero-copy export from Python, one widening pass in
# R, src/convert.c), as a bare array and as a full mc_prediction (adds the
# mean/variance), and via an Arrow IPC file. Measured in the same run for
# comparison: the same export converted by nanoarrow's generic converter, and
# R allocating a double array that size. reticulate's own NumPy conversion is
# not measured when reticulate < 1.38 (it cannot convert NumPy 2 arrays).
suppressWarnings(suppressPackageStartupMessages(library(mcbridge)))
args <- as.integer(commandArgs(trailingOnly = TRUE))
shape <- if (length(args) >= 3) args[1:3] else c(10000L, 10L, 100L)
repeats <- if (length(args) >= 4) args[4] else 5L

rss_mb <- function(field) {
  s <- readLines("/proc/self/status")
  as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", grep(paste0("^", field, ":"), s, value = TRUE))) / 1024
}
reset_peak <- function() try(writeLines("5", "/proc/self/clear_refs"), silent = TRUE)

invisible(mcbridge:::.mcb())
np <- reticulate::import("numpy", convert = FALSE)
gen <- np$random$default_rng(0L)
cube <- gen$random(reticulate::tuple(shape[1], shape[2], shape[3]), dtype = "float32")
cube <- np$asfortranarray(cube)
result <- mcbridge:::.mcb()$MCResult(cube)
bytes <- prod(shape) * 4
f <- tempfile(fileext = ".arrow")
invisible(reticulate::py_call(reticulate::py_get_attr(reticulate::import("mcbridge.arrow", convert = FALSE),
                                            "write_arrow"), result, f))

# The same C-interface export, converted by nanoarrow::convert_array().
generic <- function() {
  array <- nanoarrow::nanoarrow_allocate_array()
  schema <- nanoarrow::nanoarrow_allocate_schema()
  mcbridge:::.bridge()$export(cube, nanoarrow::nanoarrow_pointer_addr_chr(array),
                             nanoarrow::nanoarrow_pointer_addr_chr(schema))
  nanoarrow::nanoarrow_array_set_schema(array, schema)
  out <- nanoarrow::convert_array(array$children[[1]], double())
  nanoarrow::nanoarrow_pointer_release(array)
  dim(out) <- shape
  out
}

n_values <- prod(shape)
routes <- list(
  "R alone: numeric(n), allocate and zero" = function() numeric(n_values),
  "C interface, nanoarrow::convert_array" = generic,
  "C data interface -> R array" = function() mcbridge:::.py_to_r(cube),
  "C data interface -> mc_prediction" = function() mcbridge:::.py_to_r(result),
  "IPC file (mc_read_arrow) -> mc_prediction" = function() mc_read_arrow(f)
)
cat(sprintf("reticulate %s, nanoarrow %s, R %s; payload %s float32 = %.1f MB\n",
            packageVersion("reticulate"), packageVersion("nanoarrow"), getRversion(),
            paste(shape, collapse = " x "), bytes / 1e6))
medians <- list()
for (name in names(routes)) {
  fun <- routes[[name]]
  invisible(fun())                              # warm-up
  peaks <- times <- numeric(repeats)
  for (i in seq_len(repeats)) {
    invisible(gc())
    base <- rss_mb("VmRSS"); reset_peak()
    times[i] <- system.time(x <- fun(), gcFirst = FALSE)[["elapsed"]]
    peaks[i] <- rss_mb("VmHWM") - base
    rm(x)
  }
  peak <- max(peaks)
  t <- median(times)
  medians[[name]] <- t
  cat(sprintf("%-45s median %.3f s (min %.3f)  %.2f GB/s of float32  peak RSS +%.0f MB\n",
              name, t, min(times), bytes / t / 1e9, peak))
}
ours <- medians[["C data interface -> R array"]]
cat(sprintf("C data interface -> R array: %.2f GB/s (target >= 1 GB/s: %s); %.1fx nanoarrow::convert_array\n",
            bytes / ours / 1e9, if (bytes / ours / 1e9 >= 1) "PASS" else "FAIL",
            medians[["C interface, nanoarrow::convert_array"]] / ours))
x <- mcbridge:::.py_to_r(cube)
stopifnot(identical(dim(x), as.integer(shape)), identical(x, generic()),
          x[2, 3, 4] == reticulate::py_to_r(cube$item(1L, 2L, 3L)))
if (utils::packageVersion("reticulate") < "1.38") {
  cat("reticulate's own conversion: not measured (reticulate",
      as.character(packageVersion("reticulate")), "< 1.38 does not support NumPy 2)\n")
}
