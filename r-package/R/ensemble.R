# Deep ensembles: k models trained from different starts, on the Python
# engine (mcbridge.train_ensemble), one call into Python per user call.

#' Train a deep ensemble
#'
#' Trains `k` models of one architecture on the same data, each from a
#' different random initialisation and data order (a deep ensemble,
#' Lakshminarayanan et al., 2017), on the Python engine
#' (`mcbridge.train_ensemble()`, whose arguments these are, with the same
#' names and defaults). Before member `j` is built, the engine's random
#' seeds are set from a seed drawn for that member from `seed`. Predict with
#' [mc_predict()]: each member's prediction is one sample.
#'
#' The model comes from `build`: `NULL` (default) builds the seed CNN of
#' [mc_cnn()] with the arguments given in `...` (all but `seed`, so that the
#' members start from different weights); or an R function of no arguments
#' that returns a new compiled Keras model (from [mc_cnn()] without a `seed`,
#' keras3, or `reticulate::import("keras")`) each time it is called. Python
#' calls it `k + 1` times, once first to learn the model's input shape and
#' class count (so that `x` and `y` are checked before any training). A
#' builder that fixes its initial weights with a seed is refused, since the
#' members would then not differ.
#'
#' The arguments are checked in R first; then R calls Python once: `x` and
#' `y` go over through the Arrow C data interface, as in [mc_fit()].
#'
#' @inheritParams mc_fit
#' @param y One per input: class codes `0, 1, ..., classes - 1`, or a factor
#'   (levels that are whole numbers are the codes, other levels are classes
#'   0, 1, ... in level order; the ensemble does not keep them: name the
#'   classes with [mc_class_names()]); for regression members, real-valued
#'   targets.
#' @param k Number of members.
#' @param epochs Epochs per member.
#' @param batch_size Mini-batch size.
#' @param seed `NULL`, or a non-negative whole number: the same seed trains
#'   the same ensemble (on the same machine and thread count).
#' @param build `NULL`, or a function of no arguments returning a new compiled
#'   Keras model (see Details).
#' @param progress Print one line per member (time taken, last metrics).
#' @param ... With `build = NULL`: arguments of [mc_cnn()] (not `seed`), e.g.
#'   `input_shape = c(8, 8, 1)`.
#' @return An `mc_ensemble`: a list with `ensemble` (the Python
#'   `mcbridge.Ensemble`), `k`, `input_shape` (of one input) and `outputs`
#'   (classes). It prints as its size and shapes.
#' @family training
#' @seealso [mc_predict()], [mc_save_ensemble()]
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' ens <- mc_train_ensemble(d$train$x[1:200, , ] / 16, d$train$y[1:200], k = 2,
#'                          seed = 1, input_shape = c(8, 8, 1), filters = 4,
#'                          dense_units = 8, dropout = c(0.25, 0.5))
#' ens
#' res <- mc_predict(ens, d$test$x[1:5, , ] / 16)   # 2 samples: one per member
#' dim(res$all_samples)
#' @export
mc_train_ensemble <- function(x, y, k = 5, epochs = 1, batch_size = 32, seed = NULL,
                              build = NULL, progress = TRUE, ...) {
  k <- .check_count(k, "k")
  epochs <- .check_count(epochs, "epochs")
  batch_size <- .check_count(batch_size, "batch_size")
  seed <- .check_seed(seed)
  progress <- .check_flag(progress, "progress")
  dots <- list(...)
  cnn <- NULL
  if (is.null(build)) {
    allowed <- names(formals(.cnn_args))
    nm <- names(dots) %||% rep("", length(dots))
    bad <- nm[!nzchar(nm) | !nm %in% allowed]
    if (length(bad)) {
      .abort(sprintf(paste0("`...` takes named arguments of mc_cnn() (%s), not %s."),
                     paste(allowed, collapse = ", "),
                     paste0(ifelse(nzchar(bad), paste0("`", bad, "`"), "an unnamed argument"),
                            collapse = ", ")),
             "argument", arg = "...")
    }
    cnn <- do.call(.cnn_args, dots)
  } else {
    if (!is.function(build)) {
      .abort(sprintf("`build` must be NULL or a function returning a compiled Keras model, not %s.",
                     .describe(build)), "argument", arg = "build")
    }
    if (length(dots)) {
      .abort(paste0("`...` (arguments of mc_cnn()) applies only with `build = NULL`; ",
                    "give them to the model inside `build` instead."), "argument", arg = "...")
    }
  }
  xy <- .xy_export(x, y)
  report <- NULL
  if (progress) {
    report <- function(line) {
      cat(reticulate::py_to_r(line), "\n", sep = "")
      utils::flush.console()
      invisible(NULL)
    }
  }
  .new_ensemble(.bridge_call("train_ensemble", build, cnn, xy$x$addr, xy$y$addr, k, epochs,
                             batch_size, seed, report, convert = FALSE))
}

# The bridge's {"ensemble", "k", "input_shape", "outputs"} -> an mc_ensemble.
.new_ensemble <- function(info) {
  num <- function(v) if (is.null(v)) NA_integer_ else as.integer(v)
  shape <- reticulate::py_to_r(info$get("input_shape"))
  structure(list(ensemble = info$get("ensemble"),
                 k = as.integer(reticulate::py_to_r(info$get("k"))),
                 input_shape = vapply(shape, num, 0L),
                 outputs = num(reticulate::py_to_r(info$get("outputs")))),
            class = "mc_ensemble")
}

.check_ensemble <- function(ensemble, arg = "ensemble") {
  if (!inherits(ensemble, "mc_ensemble")) {
    .abort(sprintf("`%s` must be an mc_ensemble (from mc_train_ensemble() or mc_load_ensemble()), not %s.",
                   arg, .describe(ensemble)), "model", arg = arg)
  }
  py <- ensemble$ensemble
  if (!inherits(py, "python.builtin.object") || reticulate::py_is_null_xptr(py)) {
    .abort(sprintf(paste0("`%s` no longer holds its Python models (an mc_ensemble does not ",
                          "survive saveRDS() or a new R session); save it with ",
                          "mc_save_ensemble() and load it with mc_load_ensemble()."), arg),
           "model", arg = arg)
  }
  invisible(ensemble)
}

#' @export
print.mc_ensemble <- function(x, ...) {
  shape <- paste(ifelse(is.na(x$input_shape), "?", x$input_shape), collapse = ", ")
  cat(sprintf("<mc_ensemble> %d member%s, input shape c(%s), %s outputs\n", x$k,
              if (x$k == 1) "" else "s", shape,
              if (is.na(x$outputs)) "?" else format(x$outputs)))
  invisible(x)
}

#' Save and load deep ensembles
#'
#' One file (a zip of one `.keras` file per member and a manifest), the same
#' artifact as Python's `Ensemble.save()` and `mcbridge.load_ensemble()`: an
#' ensemble saved from R loads in Python and the other way round. Like
#' [mc_load_model()], `mc_load_ensemble()` uses Keras' safe mode by default: a
#' member holding Python code (a `Lambda` layer) is refused and its code is
#' not run.
#'
#' @param ensemble An `mc_ensemble`.
#' @param path File path (any name, e.g. `"model.ensemble"`). The file appears
#'   only once complete.
#' @param safe_mode Refuse members that hold Python code (default `TRUE`).
#' @param compile Restore each member's training configuration too.
#' @return `mc_save_ensemble()`: `path`, invisibly. `mc_load_ensemble()`: the
#'   `mc_ensemble`.
#' @family training
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' ens <- mc_train_ensemble(d$train$x[1:200, , ] / 16, d$train$y[1:200], k = 2,
#'                          progress = FALSE, input_shape = c(8, 8, 1),
#'                          filters = 4, dense_units = 8, dropout = c(0.25, 0.5))
#' f <- tempfile(fileext = ".ensemble")
#' mc_save_ensemble(ens, f)
#' mc_load_ensemble(f)
#' @export
mc_save_ensemble <- function(ensemble, path) {
  .check_ensemble(ensemble)
  path <- .check_path(path)
  if (!dir.exists(dirname(path))) {
    .abort(sprintf("Cannot write '%s': the directory '%s' does not exist; create it first.",
                   path, dirname(path)), "io", path = path)
  }
  .bridge_call("save_ensemble", ensemble$ensemble, normalizePath(path, mustWork = FALSE))
  invisible(path)
}

#' @rdname mc_save_ensemble
#' @export
mc_load_ensemble <- function(path, safe_mode = TRUE, compile = TRUE) {
  path <- .check_path(path, exists = TRUE)
  safe_mode <- .check_flag(safe_mode, "safe_mode")
  compile <- .check_flag(compile, "compile")
  .new_ensemble(.bridge_call("load_ensemble", normalizePath(path), safe_mode, compile,
                             convert = FALSE))
}
