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

# ---- dense outputs as tables ---------------------------------------------------

# Index columns of a dense output's rows (.rows(), R's array order): `.row`
# (the input) and `.dim_1`, `.dim_2`, ... (the position, each from 1), and
# `order`, which puts the rows input by input (positions in R's array order
# within each input).
.position_index <- function(lead) {
  idx <- arrayInd(seq_len(prod(lead)), lead)
  index <- as.data.frame(idx)
  names(index) <- c(".row", paste0(".dim_", seq_len(length(lead) - 1)))
  list(index = index, order = order(idx[, 1], method = "radix"))
}

# `df` (one row per pooled row of a dense output with leading dims `lead`)
# with the index columns in front, input by input.
.dense_table <- function(df, lead) {
  pos <- .position_index(lead)
  out <- cbind(pos$index, df)[pos$order, , drop = FALSE]
  rownames(out) <- NULL
  out
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
#' A dense output `c(n, ..., classes, samples)` (e.g. a segmentation) gives
#' one row per input and position, input by input (positions in R's array
#' order within each), with index columns in front: `.row` (the input, from
#' 1) and `.dim_1`, `.dim_2`, ... (the position along each of the dims
#' `...`, from 1). `truth` is then an array `c(n, ...)` and `sets` a logical
#' array `c(n, ..., classes)`. yardstick's metrics on this table pool the
#' positions, as [mc_evaluate_uncertainty()] does.
#'
#' @param res An `mc_prediction` or an array of sampled class probabilities
#'   `c(n, classes, samples)`, or a dense output `c(n, ..., classes, samples)`.
#' @param truth Optional labels: class codes from 0, or a factor or character
#'   vector matched by name to `levels` (or the class names); for a dense
#'   output, an array with `dim = c(n, ...)`.
#' @param levels Class names, one per class; `NULL` uses the names the
#'   prediction carries ([mc_class_names()]), else `"0"`, `"1"`, ...
#' @param sets Optional conformal prediction sets for `res`: an
#'   `mc_conformal` object (its sets for `res` are computed) or the logical
#'   matrix `n x classes` its `predict()` returns (an array
#'   `c(n, ..., classes)` for a dense output). Adds `.pred_set`, a list
#'   column holding each input's set as a character vector of `levels`.
#' @param ignore `NULL`, or label values of `truth` (e.g. `255`, a void
#'   label) or a logical array shaped like `truth`, `TRUE` = leave out: those
#'   rows are kept, with `truth` `NA` (yardstick leaves `NA` out).
#' @return A data frame with one row per input (and position). Labels or sets
#'   that do not match `res` are an `mcbridge_error_input`.
#' @family evaluation
#' @examples
#' s <- array(c(0.9, 0.2, 0.1, 0.8, 0.6, 0.3, 0.4, 0.7), c(2, 2, 2))
#' mc_tidy(s, truth = c(0, 1), levels = c("cat", "dog"))
#' @export
mc_tidy <- function(res, truth = NULL, levels = NULL, sets = NULL, ignore = NULL) {
  lead <- .lead_dims(res)
  dense <- res
  res <- .check_samples_arg(res, "res")   # a dense output's positions as rows
  m <- .mean_probs(res)
  k <- ncol(m)
  names <- if (is.null(levels)) .names_of(res) else .check_levels(levels, k)
  levels <- names %||% .class_labels(res, k)
  if (inherits(sets, "mc_conformal")) sets <- stats::predict(sets, dense)
  want <- if (is.null(lead)) dim(m) else c(lead, k)
  if (!is.null(sets) && !(is.logical(sets) && identical(as.integer(dim(sets)), as.integer(want)) &&
                          !anyNA(sets))) {
    .abort(sprintf(paste("`sets` must be an mc_conformal object or a logical array with dim c(%s)",
                         "without NA (from predict() on one), not %s."),
                   paste(want, collapse = ", "),
                   if (is.null(dim(sets))) .describe(sets) else
                     sprintf("an array with dim c(%s)", paste(dim(sets), collapse = ", "))),
           "input", arg = "sets")
  }
  if (!is.null(sets)) dim(sets) <- dim(m)
  cols <- list()
  if (!is.null(truth)) {
    t <- .pool(dense, truth, arg = "res", y_arg = "truth")$y   # a dense output's: no dims
    if (is.matrix(t) && ncol(t) == 1 && !is.factor(t)) t <- t[, 1]
    keep <- .ignore_keep(t, ignore, lead, "truth")
    if (is.null(keep)) {
      codes <- .class_codes(t, nrow(m), k, names, "truth")
    } else {
      if (!is.null(dim(t)) || length(t) != nrow(m)) .class_codes(t, nrow(m), k, names, "truth")
      codes <- rep(NA_integer_, length(t))   # the rows left out: truth NA
      codes[keep] <- .class_codes(t[keep], sum(keep), k, names, "truth")
    }
    cols$truth <- factor(levels[codes + 1L], levels = levels)
  } else if (!is.null(ignore)) {
    .abort("`ignore` needs `truth`.", "argument", arg = "ignore")
  }
  cols$.pred_class <- factor(levels[.top(m)], levels = levels)
  for (j in seq_len(k)) cols[[paste0(".pred_", levels[j])]] <- m[, j]
  for (name in names(.mc_scores)) cols[[.score_column(name)]] <- .mc_scores[[name]](res)
  df <- as.data.frame(cols, check.names = FALSE, stringsAsFactors = FALSE)
  if (!is.null(sets)) {
    df$.pred_set <- lapply(seq_len(nrow(sets)), function(i) levels[sets[i, ]])
  }
  if (!is.null(lead)) df <- .dense_table(df, lead)
  df
}
