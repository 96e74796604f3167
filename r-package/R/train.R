# Training and evaluation: one call into Python per user call.

.verbose <- function(verbose) {
  if (identical(verbose, "auto")) return("auto")
  v <- .check_count(verbose, "verbose", min = 0)
  if (v > 2) .abort(sprintf("`verbose` must be \"auto\", 0, 1 or 2, not %d.", v), "argument", arg = "verbose")
  v
}

# Loss first (so `result[[1]]` is the loss, as in R keras), then the rest.
.loss_first <- function(x) {
  nm <- names(x)
  x[c(intersect(c("loss", "val_loss"), nm), setdiff(nm, c("loss", "val_loss")))]
}

# Inputs cross as float32, integers as int32 (exact; Python then warns when
# integer images look unscaled for the model, as for a NumPy integer array).
.x_type <- function(x) if (is.integer(x)) nanoarrow::na_int32() else nanoarrow::na_float()

# x and y as Arrow arrays for the bridge. Labels given as a factor or as
# names are coded by the class names `model` was trained on from R (see
# .model_class_names); with `record`, a factor's levels become those names
# if the model has none yet (training calls).
.xy_export <- function(x, y, model = NULL, record = FALSE) {
  x <- .check_x(x)
  names <- if (!is.null(model) && (is.factor(y) || is.character(y))) .model_class_names(model)
  fresh <- is.null(names) && record && is.factor(y) && length(levels(y)) &&
    !all(grepl("^[0-9]+$", levels(y)))
  if (fresh) names <- levels(y)
  y <- .check_y(y, dim(x)[1], class_names = names)
  if (fresh) {
    reticulate::py_set_attr(model, "mcbridge_class_names", reticulate::tuple(as.list(names)))
  }
  ytype <- if (is.integer(y) || is.logical(y)) nanoarrow::na_int32() else nanoarrow::na_float()
  list(x = .arrow_export_c(x, type = .x_type(x)),
       y = .arrow_export_c(y, type = ytype))
}

# The class names `model` was trained on from R: the levels of the first
# factor `y` given to mc_fit() or mc_train_on_batch(), kept on the Python
# model (`mcbridge_class_names`; kept in the .keras file by mc_save_model()). NULL if none.
.model_class_names <- function(model) {
  live <- inherits(model, "python.builtin.object") && is.environment(model) && !reticulate::py_is_null_xptr(model)
  if (!live || !reticulate::py_has_attr(model, "mcbridge_class_names")) return(NULL)
  as.character(unlist(reticulate::py_to_r(reticulate::py_get_attr(model, "mcbridge_class_names"))))
}

.format_logs <- function(logs) {
  if (!length(logs)) return("")
  logs <- .loss_first(logs)
  paste0(" - ", paste(sprintf("%s: %.4g", names(logs), unlist(logs)), collapse = " - "))
}

#' Train a model
#'
#' Runs Keras' `fit()`; dropout is active during training as usual. The log
#' follows keras3's habit: with `verbose = "auto"` an interactive session
#' shows Keras' progress bar, and a script (`Rscript`, knitr) prints one
#' plain line per epoch. Interrupting (Ctrl-C) stops training and puts the
#' weights and optimizer state back as they were before the call.
#'
#' @param model A Keras model.
#' @param x Inputs: an array `c(n, height, width, channels)`, or
#'   `c(n, height, width)` for one channel (a channel axis is added).
#' @param y One per input. For a classifier (sparse categorical loss): class
#'   codes `0, 1, ..., classes - 1`, or a factor (levels that are whole
#'   numbers are the codes, other levels are classes 0, 1, ... in level
#'   order). The first factor's levels are kept on the model as its class
#'   names: later factors or character labels (here, in [mc_train_on_batch()]
#'   and [mc_evaluate()]) are matched to them by name, whatever their level
#'   order, and [mc_predict()] names its classes with them (kept in the
#'   `.keras` file by [mc_save_model()]). For a regression model:
#'   real-valued targets, a vector or a matrix `c(n, outputs)`.
#' @param batch_size Mini-batch size.
#' @param epochs Number of epochs.
#' @param validation_split Fraction of the data held out for validation.
#' @param verbose `"auto"`, 0 (silent), 1 (Keras' progress bar) or 2 (one
#'   line per epoch).
#' @return A data frame with one row per epoch: `epoch` and the loss and
#'   metrics (`loss`, `accuracy`, `val_loss`, ...).
#' @family training
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_fit(model, d$train$x / 16, d$train$y, epochs = 1, verbose = 0)
#' @export
mc_fit <- function(model, x, y, batch_size = 128, epochs = 10, validation_split = 0,
                   verbose = "auto") {
  .check_model(model)
  batch_size <- .check_count(batch_size, "batch_size")
  epochs <- .check_count(epochs, "epochs")
  if (!is.numeric(validation_split) || length(validation_split) != 1 ||
      is.na(validation_split) || validation_split < 0 || validation_split >= 1) {
    .abort(sprintf("`validation_split` must be a number in [0, 1), not %s.", .describe(validation_split)),
           "argument", arg = "validation_split")
  }
  verbose <- .verbose(verbose)
  xy <- .xy_export(x, y, model, record = TRUE)
  # Keras' bar in interactive sessions; otherwise R prints one line per epoch.
  on_epoch <- NULL
  if (identical(verbose, "auto")) verbose <- if (interactive()) 1L else 2L
  if (identical(verbose, 2L)) {
    verbose <- 0L
    on_epoch <- function(epoch, epochs, logs) {
      # Arguments arrive as Python objects (the bridge module has convert = FALSE).
      epoch <- reticulate::py_to_r(epoch)
      epochs <- reticulate::py_to_r(epochs)
      logs <- reticulate::py_to_r(logs)
      cat(sprintf("Epoch %d/%d%s\n", epoch, epochs, .format_logs(logs)))
      utils::flush.console()
      invisible(NULL)
    }
  }
  hist <- .bridge_call("fit", model, xy$x$addr, xy$y$addr, batch_size, epochs,
                       validation_split, verbose, on_epoch)
  out <- data.frame(epoch = seq_len(epochs))
  for (k in names(.loss_first(hist))) out[[k]] <- as.numeric(unlist(hist[[k]]))
  out
}

#' Train on one mini-batch
#'
#' One gradient step on `x`, `y` (Keras' `train_on_batch()`), for custom
#' training loops. An interrupt leaves the model as it was.
#'
#' @inheritParams mc_fit
#' @return A named numeric vector: `loss` and the compiled metrics, so
#'   `result[[1]]` is the loss.
#' @family training
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_train_on_batch(model, d$train$x[1:32, , ] / 16, d$train$y[1:32])
#' @export
mc_train_on_batch <- function(model, x, y) {
  .check_model(model)
  xy <- .xy_export(x, y, model, record = TRUE)
  .loss_first(unlist(.bridge_call("train_on_batch", model, xy$x$addr, xy$y$addr)))
}

#' Evaluate a model
#'
#' Keras' `evaluate()` with dropout off (deterministic).
#'
#' @inheritParams mc_fit
#' @return A named numeric vector: `loss` and the compiled metrics.
#' @family training
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_evaluate(model, d$test$x / 16, d$test$y, verbose = 0)
#' @export
mc_evaluate <- function(model, x, y, batch_size = 128, verbose = 0) {
  .check_model(model)
  batch_size <- .check_count(batch_size, "batch_size")
  verbose <- .verbose(verbose)
  if (identical(verbose, "auto")) verbose <- if (interactive()) 1L else 0L
  xy <- .xy_export(x, y, model)
  .loss_first(unlist(.bridge_call("evaluate", model, xy$x$addr, xy$y$addr, batch_size, verbose)))
}
