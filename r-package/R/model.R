# Building, training, switching, saving and loading models.

#' Build the seed CNN with switchable Monte Carlo dropout
#'
#' For each entry of `filters`: convolution (ReLU), dropout, 2x2 max pooling;
#' then flatten, a dense layer (ReLU), dropout and a softmax output. Compiled
#' with Adam (learning rate 1e-3), sparse categorical cross-entropy and
#' accuracy. MC dropout starts switched off (see [set_mc_dropout()]);
#' [mc_predict()] switches it on by itself.
#'
#' @param input_shape `c(height, width, channels)` of one image.
#' @param n_classes Number of classes.
#' @param filters Filters of each convolution block.
#' @param kernel_size Square kernel size.
#' @param dense_units Units of the hidden dense layer (0 for none).
#' @param dropout `length(filters) + 1` dropout rates in `[0, 1)`.
#' @param seed Optional whole number seeding weights and dropout masks.
#' @return A Keras model (a Python object; it also works with the keras3
#'   package).
#' @examplesIf mcbridge_available(initialize = FALSE)
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' @export
mc_cnn <- function(input_shape = c(28, 28, 1), n_classes = 10, filters = c(32, 64),
                   kernel_size = 3, dense_units = 128, dropout = c(0.25, 0.25, 0.5),
                   seed = NULL) {
  ints <- function(x, arg, min = 1) vapply(x, function(v) .check_count(v, arg, min), 0L)
  input_shape <- ints(input_shape, "input_shape")
  if (length(input_shape) != 3) {
    stop("`input_shape` must be c(height, width, channels).", call. = FALSE)
  }
  filters <- ints(filters, "filters")
  if (!is.numeric(dropout) || anyNA(dropout) || any(dropout < 0 | dropout >= 1) ||
      length(dropout) != length(filters) + 1) {
    stop(sprintf("`dropout` must be %d rates in [0, 1) (one per convolution block, then one before the output).",
                 length(filters) + 1), call. = FALSE)
  }
  .mcb()$build_cnn(
    input_shape = as.list(input_shape),
    n_classes = .check_count(n_classes, "n_classes", min = 2),
    filters = as.list(filters),
    kernel_size = .check_count(kernel_size, "kernel_size"),
    dense_units = .check_count(dense_units, "dense_units", min = 0),
    dropout = as.list(as.numeric(dropout)),
    seed = .check_seed(seed)
  )
}

.verbose <- function(verbose) {
  if (identical(verbose, "auto")) return("auto")
  .check_count(verbose, "verbose", min = 0)
}

# Loss first (so `result[[1]]` is the loss, as in R keras), then the rest.
.loss_first <- function(x) {
  nm <- names(x)
  x[c(intersect(c("loss", "val_loss"), nm), setdiff(nm, c("loss", "val_loss")))]
}

.xy_to_py <- function(model, x, y) {
  x <- .check_x(x)
  y <- .check_y(y, dim(x)[1])
  x <- .adapt_x(x, model)
  list(x = .r_to_py(x), y = .r_to_py(y, type = .y_type(y)))
}

#' Train a model
#'
#' Runs Keras' `fit()`; dropout is active during training as usual.
#'
#' @param model A Keras model.
#' @param x Inputs: an array `c(n, height, width, channels)`, or
#'   `c(n, height, width)` for one channel (a channel axis is added).
#' @param y Labels: integer, numeric (class codes from 0) or factor (its
#'   codes, from 0), or a matrix with one row per input.
#' @param batch_size Mini-batch size.
#' @param epochs Number of epochs.
#' @param validation_split Fraction of the data held out for validation.
#' @param verbose `"auto"`, 0 (silent), 1 (progress bar) or 2 (one line per
#'   epoch).
#' @return A data frame with one row per epoch: `epoch` and the loss and
#'   metrics (`loss`, `accuracy`, `val_loss`, ...).
#' @examplesIf mcbridge_available(initialize = FALSE)
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
    stop("`validation_split` must be a number in [0, 1).", call. = FALSE)
  }
  verbose <- .verbose(verbose)
  xy <- .xy_to_py(model, x, y)
  hist <- reticulate::py_to_r(.glue()$fit(model, xy$x, xy$y, batch_size, epochs,
                                          validation_split, verbose))
  out <- data.frame(epoch = seq_len(epochs))
  for (k in names(.loss_first(hist))) out[[k]] <- as.numeric(unlist(hist[[k]]))
  out
}

#' Train on one mini-batch
#'
#' One gradient step on `x`, `y` (Keras' `train_on_batch()`), for custom
#' training loops.
#'
#' @inheritParams mc_fit
#' @return A named numeric vector: `loss` and the compiled metrics, so
#'   `result[[1]]` is the loss.
#' @examplesIf mcbridge_available(initialize = FALSE)
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_train_on_batch(model, d$train$x[1:32, , ] / 16, d$train$y[1:32])
#' @export
mc_train_on_batch <- function(model, x, y) {
  .check_model(model)
  xy <- .xy_to_py(model, x, y)
  .loss_first(unlist(reticulate::py_to_r(.glue()$train_on_batch(model, xy$x, xy$y))))
}

#' Evaluate a model
#'
#' Keras' `evaluate()` with dropout off (deterministic).
#'
#' @inheritParams mc_fit
#' @return A named numeric vector: `loss` and the compiled metrics.
#' @examplesIf mcbridge_available(initialize = FALSE)
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_evaluate(model, d$test$x / 16, d$test$y, verbose = 0)
#' @export
mc_evaluate <- function(model, x, y, batch_size = 128, verbose = 0) {
  .check_model(model)
  batch_size <- .check_count(batch_size, "batch_size")
  verbose <- .verbose(verbose)
  xy <- .xy_to_py(model, x, y)
  .loss_first(unlist(reticulate::py_to_r(.glue()$evaluate(model, xy$x, xy$y, batch_size, verbose))))
}

#' Switch Monte Carlo dropout on or off
#'
#' With MC dropout on, dropout layers drop units in inference too (e.g. in
#' `predict()`); [mc_predict()] does this for you. A model whose dropout layers
#' are plain Keras layers (e.g. built with keras3) is made switchable first.
#'
#' @param model A Keras model.
#' @param enabled `TRUE` or `FALSE`.
#' @return The model, invisibly (so it pipes).
#' @examplesIf mcbridge_available(initialize = FALSE)
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' set_mc_dropout(model, TRUE)
#' mc_dropout_enabled(model)
#' @export
set_mc_dropout <- function(model, enabled) {
  .check_model(model)
  enabled <- .check_flag(enabled, "enabled")
  out <- .mcb()$set_mc_dropout(model, enabled)
  invisible(if (.is_keras_model(out)) out else model)
}

#' @rdname set_mc_dropout
#' @return For `mc_dropout_enabled()`: `TRUE` or `FALSE`.
#' @export
mc_dropout_enabled <- function(model) {
  .check_model(model)
  isTRUE(reticulate::py_to_r(reticulate::py_call(
    reticulate::py_get_attr(.mcb(), "mc_dropout_enabled"), model)))
}

#' Save and load models
#'
#' `.keras` files are interchangeable between R and Python: a model saved from
#' Python with `model.save()` loads here and the other way round.
#'
#' @param model A Keras model.
#' @param path File path, ending in `.keras`.
#' @return `mc_save_model()`: `path`, invisibly. `mc_load_model()`: the model.
#' @examplesIf mcbridge_available(initialize = FALSE)
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' f <- tempfile(fileext = ".keras")
#' mc_save_model(model, f)
#' model2 <- mc_load_model(f)
#' @export
mc_save_model <- function(model, path) {
  .check_model(model)
  if (!is.character(path) || length(path) != 1 || !grepl("\\.keras$", path)) {
    stop("`path` must be a single file path ending in '.keras'.", call. = FALSE)
  }
  path <- path.expand(path)
  reticulate::py_call(reticulate::py_get_attr(model, "save"), path)
  invisible(path)
}

#' @rdname mc_save_model
#' @export
mc_load_model <- function(path) {
  if (!is.character(path) || length(path) != 1 || !file.exists(path)) {
    stop("`path` must be an existing '.keras' file.", call. = FALSE)
  }
  .glue()$load_model(normalizePath(path))
}
