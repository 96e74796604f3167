# Building, training, switching, saving and loading models.

#' Build the seed CNN with switchable Monte Carlo dropout
#'
#' For each entry of `filters`: convolution (ReLU), dropout, 2x2 max pooling;
#' then flatten, a dense layer (ReLU), dropout and a softmax output. Compiled
#' with Adam (learning rate 1e-3), sparse categorical cross-entropy and
#' accuracy. MC dropout starts switched off (see [mc_set_dropout()]);
#' [mc_predict()] samples with dropout on by itself. The arguments are
#' Python's `mcbridge.build_cnn()`'s, with the same names and defaults.
#'
#' @param input_shape `c(height, width, channels)` of one image. With
#'   `padding = "valid"` each block shrinks the image by `kernel_size - 1`
#'   and then halves it; an image too small for the blocks is an error that
#'   names the smallest size that works.
#' @param n_classes Number of classes.
#' @param filters Filters of each convolution block.
#' @param kernel_size Square kernel size.
#' @param dense_units Units of the hidden dense layer (0 for none).
#' @param dropout `length(filters) + 1` dropout rates in `[0, 1)`; 0 omits
#'   that dropout layer.
#' @param padding `"valid"` (no padding) or `"same"` (convolutions keep the
#'   image size).
#' @param seed Optional whole number seeding weights and dropout masks.
#' @return A Keras model (a Python object; it also works with the keras3
#'   package).
#' @family training
#' @examplesIf mcbridge_available()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' @export
mc_cnn <- function(input_shape = c(28, 28, 1), n_classes = 10, filters = c(32, 64),
                   kernel_size = 3, dense_units = 128, dropout = c(0.25, 0.25, 0.5),
                   padding = "valid", seed = NULL) {
  args <- .cnn_args(input_shape, n_classes, filters, kernel_size, dense_units, dropout,
                    padding)
  args["seed"] <- list(.check_seed(seed))
  do.call(.bridge_call, c(list("build_cnn", convert = FALSE), args))
}

# mc_cnn()'s arguments (but `seed`), checked, as Python's build_cnn() takes
# them (also for mc_train_ensemble()).
.cnn_args <- function(input_shape = c(28, 28, 1), n_classes = 10, filters = c(32, 64),
                      kernel_size = 3, dense_units = 128, dropout = c(0.25, 0.25, 0.5),
                      padding = "valid") {
  ints <- function(x, arg, min = 1) {
    if (!is.numeric(x) || length(x) < 1) {
      .abort(sprintf("`%s` must be whole numbers >= %d, not %s.", arg, min, .describe(x)),
             "argument", arg = arg)
    }
    vapply(x, function(v) .check_count(v, arg, min), 0L)
  }
  input_shape <- ints(input_shape, "input_shape")
  if (length(input_shape) != 3) {
    .abort(sprintf("`input_shape` must be c(height, width, channels), not %d numbers.",
                   length(input_shape)), "argument", arg = "input_shape")
  }
  n_classes <- .check_count(n_classes, "n_classes", min = 2)
  filters <- ints(filters, "filters")
  kernel_size <- .check_count(kernel_size, "kernel_size")
  dense_units <- .check_count(dense_units, "dense_units", min = 0)
  if (!is.numeric(dropout) || anyNA(dropout) || any(dropout < 0 | dropout >= 1) ||
      length(dropout) != length(filters) + 1) {
    .abort(sprintf(paste0("`dropout` must be %d rates in [0, 1) (one per convolution block, ",
                          "then one before the output), not %s."),
                   length(filters) + 1, paste(format(dropout), collapse = ", ")),
           "argument", arg = "dropout")
  }
  padding <- .check_string(padding, "padding", c("valid", "same"))
  .check_cnn_size(input_shape, length(filters), kernel_size, padding)
  list(input_shape = as.list(input_shape), n_classes = n_classes,
       filters = as.list(filters), kernel_size = kernel_size,
       dense_units = dense_units, dropout = as.list(as.numeric(dropout)),
       padding = padding)
}

# Image side after `blocks` x (conv, 2x2 max-pool), or NA when a layer
# would get an empty input.
.cnn_side <- function(side, blocks, kernel_size, padding) {
  for (b in seq_len(blocks)) {
    if (padding == "valid") side <- side - kernel_size + 1
    if (side < 2) return(NA)
    side <- side %/% 2
  }
  side
}

.check_cnn_size <- function(input_shape, blocks, kernel_size, padding) {
  hw <- input_shape[1:2]
  ok <- !is.na(vapply(hw, .cnn_side, 0, blocks = blocks, kernel_size = kernel_size,
                      padding = padding))
  if (all(ok)) return(invisible())
  min_side <- 1
  while (is.na(.cnn_side(min_side, blocks, kernel_size, padding))) min_side <- min_side + 1
  hint <- if (padding == "valid") {
    min_same <- 1
    while (is.na(.cnn_side(min_same, blocks, kernel_size, "same"))) min_same <- min_same + 1
    sprintf(paste0("; or pass padding = \"same\" (convolutions then keep the size, and ",
                   "%d x %d works)"), min_same, min_same)
  } else ""
  .abort(sprintf(paste0("`input_shape` c(%s) is too small for %d convolution block%s ",
                        "(kernel_size = %d, padding = \"%s\", each followed by 2x2 pooling): ",
                        "height and width must be at least %d%s, or use fewer `filters`."),
                 paste(input_shape, collapse = ", "), blocks, if (blocks == 1) "" else "s",
                 kernel_size, padding, min_side, hint),
         "model", arg = "input_shape")
}

#' Build an MLP for tabular data with switchable Monte Carlo dropout
#'
#' For each entry of `hidden_units`: a dense layer (ReLU) and dropout; then
#' the output layer: softmax over `n_outputs` classes (classification),
#' `n_outputs` real values (regression), or `n_outputs` means and
#' `n_outputs` log-variances (`heteroscedastic = TRUE`). Compiled with Adam
#' (learning rate 1e-3) and sparse categorical cross-entropy with accuracy,
#' mean squared error with mean absolute error, or the Gaussian negative
#' log-likelihood. Train it with [mc_fit()] on a numeric matrix or data
#' frame; predict with [mc_predict()] (`task = "regression"`, and
#' `heteroscedastic = TRUE` for that model). Python's
#' `mcbridge.models.build_mlp()`, with the same arguments.
#'
#' @param input_dim Number of features (columns of `x`).
#' @param n_outputs Classes (classification, at least 2) or targets
#'   (regression).
#' @param hidden_units Units of each hidden layer.
#' @param dropout One rate in `[0, 1)` per hidden layer; 0 omits that dropout.
#' @param task `"classification"` or `"regression"`.
#' @param heteroscedastic With `task = "regression"`: also learn each
#'   input's noise variance.
#' @param seed Optional whole number seeding weights and dropout masks.
#' @return A compiled Keras model.
#' @family training
#' @examplesIf mcbridge_available()
#' x <- as.matrix(iris[, 1:3])
#' model <- mc_mlp(input_dim = 3, n_outputs = 1, hidden_units = 16, dropout = 0.1,
#'                 task = "regression", seed = 1)
#' mc_fit(model, x, iris$Petal.Width, epochs = 2, verbose = 0)
#' res <- mc_predict(model, x[1:5, ], n_samples = 20, task = "regression")
#' @export
mc_mlp <- function(input_dim, n_outputs = 2, hidden_units = c(64, 64), dropout = c(0.2, 0.2),
                   task = "classification", heteroscedastic = FALSE, seed = NULL) {
  input_dim <- .check_count(input_dim, "input_dim")
  task <- .check_string(task, "task", c("classification", "regression"))
  heteroscedastic <- .check_flag(heteroscedastic, "heteroscedastic")
  n_outputs <- .check_count(n_outputs, "n_outputs", min = if (task == "classification") 2 else 1)
  if (heteroscedastic && task != "regression") {
    .abort('`heteroscedastic = TRUE` needs `task = "regression"`.', "argument", arg = "heteroscedastic")
  }
  if (!is.numeric(hidden_units)) {
    .abort(sprintf("`hidden_units` must be whole numbers >= 1, not %s.", .describe(hidden_units)),
           "argument", arg = "hidden_units")
  }
  hidden_units <- vapply(hidden_units, function(v) .check_count(v, "hidden_units"), 0L)
  if (!is.numeric(dropout) || anyNA(dropout) || any(dropout < 0 | dropout >= 1) ||
      length(dropout) != length(hidden_units)) {
    .abort(sprintf("`dropout` must be %d rates in [0, 1) (one per hidden layer), not %s.",
                   length(hidden_units), paste(format(dropout), collapse = ", ")),
           "argument", arg = "dropout")
  }
  .bridge_call("build_mlp", input_dim = input_dim, n_outputs = n_outputs,
               hidden_units = as.list(hidden_units), dropout = as.list(as.numeric(dropout)),
               task = task, heteroscedastic = heteroscedastic, seed = .check_seed(seed),
               convert = FALSE)
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
#' @family prediction
#' @examplesIf mcbridge_available()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' mc_set_dropout(model, TRUE)
#' mc_dropout_enabled(model)
#' @export
mc_set_dropout <- function(model, enabled) {
  .check_model(model)
  enabled <- .check_flag(enabled, "enabled")
  out <- tryCatch(.mcb()$set_mc_dropout(model, enabled),
                  error = function(e) .abort(conditionMessage(e), "model"))
  invisible(if (.is_keras_model(out)) out else model)
}

#' @rdname mc_set_dropout
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
#' Python with `model.save()` loads here and the other way round. A model
#' trained on a factor keeps the factor's levels as its class names in the
#' file (Python: `mcbridge.load_model(path).mcbridge_class_names`), so after
#' loading, labels are still matched by name and predictions named.
#' `mc_load_model()` uses Keras' safe mode by default: a file holding Python
#' code (a `Lambda` layer) is refused and its code is not run. Pass
#' `safe_mode = FALSE` only for files you trust: loading then runs the code
#' stored in the file.
#'
#' @param model A Keras model.
#' @param path File path, ending in `.keras`.
#' @param safe_mode Refuse files that hold Python code (default `TRUE`).
#' @param compile Restore the training configuration too.
#' @return `mc_save_model()`: `path`, invisibly. `mc_load_model()`: the model.
#' @family training
#' @examplesIf mcbridge_available()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' f <- tempfile(fileext = ".keras")
#' mc_save_model(model, f)
#' model2 <- mc_load_model(f)
#' @export
mc_save_model <- function(model, path) {
  .check_model(model)
  path <- .check_path(path)
  if (!grepl("\\.keras$", path)) {
    .abort(sprintf("`path` must end in '.keras', not '%s'.", basename(path)), "input", arg = "path")
  }
  if (!dir.exists(dirname(path))) {
    .abort(sprintf("Cannot write '%s': the directory '%s' does not exist; create it first.",
                   path, dirname(path)), "io", path = path)
  }
  .bridge_call("save_model", model, normalizePath(path, mustWork = FALSE))
  invisible(path)
}

#' @rdname mc_save_model
#' @export
mc_load_model <- function(path, safe_mode = TRUE, compile = TRUE) {
  path <- .check_path(path, exists = TRUE)
  safe_mode <- .check_flag(safe_mode, "safe_mode")
  compile <- .check_flag(compile, "compile")
  .bridge_call("load_model", normalizePath(path), safe_mode, compile, convert = FALSE)
}
