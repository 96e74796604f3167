# Class names on an mc_prediction, and the hand-off to tidymodels conventions.

#' Class names of an mc_prediction
#'
#' An `mc_prediction` can carry the names of its classes (an attribute, so
#' the object still behaves like `list(mean, variance, all_samples)`).
#' `print()`, `summary()`, `plot()` and [mc_tidy()] show them where they are
#' set; otherwise classes are shown by their index from 0, as in Python.
#'
#' @param x An `mc_prediction`.
#' @param value A character vector with one name per class, or `NULL` to
#'   drop the names.
#' Setting them also names the columns of `mean` and `variance`.
#'
#' @return `mc_class_names()`: the names, or `NULL` when none are set.
#'   `mc_class_names<-`: the `mc_prediction` with the names set.
#' @family evaluation
#' @examples
#' res <- as_mc_prediction(array(c(0.9, 0.1, 0.8, 0.2), c(1, 2, 2)))
#' mc_class_names(res) <- c("cat", "dog")
#' mc_class_names(res)
#' @export
mc_class_names <- function(x) {
  attr(x, "class_names", exact = TRUE)
}

#' @rdname mc_class_names
#' @export
`mc_class_names<-` <- function(x, value) {
  if (!inherits(x, "mc_prediction")) {
    .abort(sprintf("`x` must be an mc_prediction, not %s.", .describe(x)), "input", arg = "x")
  }
  d <- dim(x$all_samples)
  if (!is.null(value)) value <- .check_levels(value, d[length(d) - 1], "value")  # the classes axis
  attr(x, "class_names") <- value
  # mean and variance: one column per class, named once the classes are
  x$mean <- .name_columns(x$mean, value)
  x$variance <- .name_columns(x$variance, value)
  x
}

.name_columns <- function(m, names) {
  if (is.matrix(m)) colnames(m) <- names
  m
}

.check_levels <- function(levels, k, arg = "levels") {
  if (is.factor(levels)) levels <- as.character(levels)
  if (!is.character(levels) || length(levels) != k || anyNA(levels) ||
      anyDuplicated(levels) || any(levels == "")) {
    .abort(sprintf("`%s` must be %d distinct, non-empty class names (one per class), not %s.",
                   arg, k, .describe(levels)), "argument", arg = arg)
  }
  levels
}

# The names to show for classes: the carried names, else "0", "1", ...
.class_labels <- function(x, k = NULL) {
  nm <- if (inherits(x, "mc_prediction")) mc_class_names(x) else NULL
  if (is.null(nm)) {
    if (is.null(k)) k <- dim(.as_samples(x))[2]
    nm <- as.character(seq_len(k) - 1L)
  }
  nm
}

#' A tidy data frame of predictions, for yardstick and probably
#'
#' One row per input, with the column names that R's tidymodels packages
#' yardstick (metrics) and probably (calibration, thresholds) expect, so the
#' result pipes into them, e.g.
#' `yardstick::roc_auc(df, truth, dplyr::starts_with(".pred_"), -.pred_class)`
#' or `probably::cal_plot_breaks(df, truth)`. (yardstick and probably are not
#' installed with mcbridge nor tested here, as they cannot be installed on the
#' project's build machine; the column contract below is tested.)
#'
#' Columns, in order:
#' * `truth` (only when `truth` is given): a factor with `levels`.
#' * `.pred_class`: the class with the highest mean probability (first on
#'   ties), a factor with `levels`.
#' * `.pred_<level>`: the mean probability of each class, in class order
#'   (the columns a multiclass `roc_auc()` or `mn_log_loss()` takes).
#' * `predictive_entropy`, `mutual_information`, `variation_ratio`,
#'   `one_minus_max_probability`: the uncertainty scores (see
#'   [mc_predictive_entropy()]).
#' * `.pred_set` (only when `sets` is given): the conformal prediction set of
#'   each input ([mc_conformal()]).
#'
#' @param res An `mc_prediction` or an array of sampled class probabilities
#'   `c(n, classes, samples)`.
#' @param truth Optional labels: class codes from 0, or a factor or character
#'   vector matched by name to `levels` (or the class names).
#' @param levels Class names, one per class; `NULL` uses the names the
#'   prediction carries ([mc_class_names()]), else `"0"`, `"1"`, ...
#' @param sets Optional conformal prediction sets for `res`: an
#'   `mc_conformal` object (its sets for `res` are computed) or the logical
#'   matrix `n x classes` its `predict()` returns. Adds `.pred_set`, a list
#'   column holding each input's set as a character vector of `levels`.
#' @return A data frame with one row per input.
#' @family evaluation
#' @examples
#' s <- array(c(0.9, 0.2, 0.1, 0.8, 0.6, 0.3, 0.4, 0.7), c(2, 2, 2))
#' mc_tidy(s, truth = c(0, 1), levels = c("cat", "dog"))
#' @export
mc_tidy <- function(res, truth = NULL, levels = NULL, sets = NULL) {
  res <- .check_samples_arg(res, "res")
  m <- .mean_probs(res)
  k <- ncol(m)
  names <- if (is.null(levels)) .names_of(res) else .check_levels(levels, k)
  levels <- names %||% .class_labels(res, k)
  if (inherits(sets, "mc_conformal")) sets <- stats::predict(sets, res)
  if (!is.null(sets) && !(is.logical(sets) && is.matrix(sets) && identical(dim(sets), dim(m)) &&
                          !anyNA(sets))) {
    .abort(sprintf(paste("`sets` must be an mc_conformal object or a logical %d x %d matrix",
                         "without NA (from predict() on one), not %s."),
                   nrow(m), k, .describe(sets)), "input", arg = "sets")
  }
  cols <- list()
  if (!is.null(truth)) {
    cols$truth <- factor(levels[.class_codes(truth, nrow(m), k, names, "truth") + 1L], levels = levels)
  }
  cols$.pred_class <- factor(levels[.top(m)], levels = levels)
  for (j in seq_len(k)) cols[[paste0(".pred_", levels[j])]] <- m[, j]
  for (name in names(.mc_scores)) cols[[.score_column(name)]] <- .mc_scores[[name]](res)
  df <- as.data.frame(cols, check.names = FALSE, stringsAsFactors = FALSE)
  if (!is.null(sets)) {
    df$.pred_set <- lapply(seq_len(nrow(sets)), function(i) levels[sets[i, ]])
  }
  df
}
