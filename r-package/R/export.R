# Exporting a model as a TensorFlow SavedModel that serves its uncertainty
# (Python's mcbridge.export): one call into Python.

#' Export a model as a TensorFlow SavedModel that serves MC dropout uncertainty
#'
#' Writes a TensorFlow SavedModel whose signatures run the same engine as
#' [mc_predict()] inside the graph and return, for each input, the mean and
#' variance over `n_samples` MC samples and the uncertainty measures.
#' Loading it needs TensorFlow only (no mcbridge, in R or Python), so it can
#' be served by TensorFlow Serving or loaded with
#' `reticulate::import("tensorflow")$saved_model$load(path)`.
#'
#' A model with several outputs serves each output's summaries as
#' `"<output name>/<summary>"` (e.g. `"label/mean"`, `"price/variance"`);
#' `task`, `from_logits` and `heteroscedastic` take one value per output, as
#' in [mc_predict()]. A heteroscedastic regression output (`heteroscedastic =
#' TRUE`: `d` means then `d` log-variances) serves `"aleatoric_variance"`,
#' `"epistemic_variance"` and `"predictive_variance"` by default (as
#' [mc_predict()]'s result names them); these take TensorFlow's `exp`, which
#' agrees with [mc_predict()]'s to about 2.4e-7 (relative).
#'
#' Two signatures: `serving_default` takes `x` and draws fresh masks on
#' every call; `seeded` takes `x`, an int64 `seed` and one int64 `key` per
#' row, and gives row `i` the samples [mc_predict()] with that `seed` gives
#' the input with (0-based) row index `key[i]`. With the same `batch_size`
#' the numbers are the same bits as [mc_predict()]'s on the same CPU (the
#' entropies to about 1e-15). The request and response JSON of TensorFlow
#' Serving and how to load the SavedModel from R are in `docs/EXPORT.md` of
#' the project.
#'
#' @param model A Keras model with dropout (from [mc_cnn()], [mc_load_model()],
#'   keras3, ...), with one output or several, or an `mc_ensemble` (one
#'   SavedModel for all members; `n_samples = 1` predicts once per member).
#' @param path The SavedModel directory to create; its folder must exist.
#' @param n_samples MC samples per input (per member for an ensemble).
#' @param precision `"float32"` or `"bfloat16"` (see [mc_predict()]).
#' @param outputs `NULL` (mean, variance, predictive entropy and mutual
#'   information; regression: mean and variance; heteroscedastic: mean,
#'   aleatoric, epistemic and predictive variance), a character vector of
#'   summary names for every output (`"mean"`, `"variance"`, `"std"`;
#'   classification: `"predictive_entropy"`, `"expected_entropy"`,
#'   `"mutual_information"`; heteroscedastic: `"aleatoric_variance"`,
#'   `"epistemic_variance"`, `"predictive_variance"`, `"predictive_std"`), or
#'   a list of them named by output (outputs left out get the defaults).
#' @param include_samples Also serve the samples.
#' @param overwrite Replace an existing SavedModel directory at `path`.
#' @param task `"classification"` or `"regression"`; one per output, or one
#'   for all.
#' @param from_logits Apply a softmax to each sample; one per output, or one
#'   for all.
#' @param heteroscedastic With `task = "regression"`: the output holds `d`
#'   means then `d` log-variances (see [mc_predict()]); one per output, or
#'   one for all.
#' @param batch_size Inputs per compiled call (as in [mc_predict()]).
#' @param input_shape For a model built on inputs of unknown size
#'   (`keras$Input(list(NULL, NULL, 3L))`): the size the SavedModel serves,
#'   the input's shape without the batch axis, e.g. `c(128, 128, 3)` (a list
#'   of them for several inputs); `NULL`: the model's own.
#' @return The SavedModel's absolute path, invisibly.
#' @seealso [mc_predict()], [mc_save_model()]
#' @examplesIf mcbridge_available()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5), seed = 1)
#' dir <- file.path(tempdir(), "served")
#' mc_export(model, dir, n_samples = 10, overwrite = TRUE)
#' list.files(dir)
#' @export
mc_export <- function(model, path, n_samples = 50, precision = "float32", outputs = NULL,
                      include_samples = FALSE, overwrite = FALSE, task = "classification",
                      from_logits = FALSE, batch_size = 128, heteroscedastic = FALSE,
                      input_shape = NULL) {
  if (inherits(model, "mc_ensemble")) {
    .check_ensemble(model, "model")
    py_model <- model$ensemble
  } else {
    .check_model(model)
    py_model <- model
  }
  path <- .check_path(path)
  n_samples <- .check_count(n_samples, "n_samples")
  batch_size <- .check_count(batch_size, "batch_size")
  precision <- .check_string(precision, "precision", c("float32", "bfloat16"))
  task <- .per_output(task, "task", function(v, a) .check_string(v, a, c("classification", "regression")))
  from_logits <- .per_output(from_logits, "from_logits", .check_flag)
  heteroscedastic <- .per_output(heteroscedastic, "heteroscedastic", .check_flag)
  if (any(heteroscedastic & task != "regression")) {
    .abort('`heteroscedastic = TRUE` needs `task = "regression"` for the same output.', "argument",
           arg = "heteroscedastic")
  }
  include_samples <- .check_flag(include_samples, "include_samples")
  overwrite <- .check_flag(overwrite, "overwrite")
  one <- function(v) if (length(v) == 1) v else as.list(v)  # (a vector of one: one value for all)
  summary_names <- function(v) is.character(v) && length(v) && !anyNA(v)
  named_list <- is.list(outputs) && !is.object(outputs) && length(outputs) &&
    !is.null(names(outputs)) && all(nzchar(names(outputs))) && !anyDuplicated(names(outputs)) &&
    all(vapply(outputs, summary_names, logical(1)))
  if (!is.null(outputs) && !summary_names(outputs) && !named_list) {
    .abort(sprintf(paste0("`outputs` must be NULL, a character vector of summary names or a list ",
                          "of them named by model output, not %s."), .describe(outputs)),
           "argument", arg = "outputs")
  }
  whole <- function(v) is.numeric(v) && length(v) && !anyNA(v) && all(v >= 1 & v == round(v))
  if (!is.null(input_shape) && !whole(input_shape) &&
      !(is.list(input_shape) && length(input_shape) && all(vapply(input_shape, whole, logical(1))))) {
    .abort(sprintf(paste0("`input_shape` must be NULL, the input's shape without the batch axis ",
                          "(positive whole numbers, e.g. c(128, 128, 3)) or a list of them, not %s."),
                   .describe(input_shape)), "argument", arg = "input_shape")
  }
  if (!dir.exists(dirname(path))) {
    .abort(sprintf("Cannot export to '%s': the directory '%s' does not exist; create it first.",
                   path, dirname(path)), "io", path = path)
  }
  out <- .bridge_call("export_savedmodel", py_model, normalizePath(path, mustWork = FALSE),
                      as.integer(n_samples), precision,
                      if (is.null(outputs)) NULL
                      else if (is.list(outputs)) lapply(outputs, as.list)  # (a named list: a dict)
                      else as.list(outputs),
                      include_samples, overwrite, one(task), one(from_logits),
                      as.integer(batch_size), one(heteroscedastic),
                      if (is.null(input_shape)) NULL
                      else if (is.list(input_shape)) lapply(input_shape, function(v) as.list(as.integer(v)))
                      else as.list(as.integer(input_shape)))
  invisible(out)
}
