# An mc_prediction behaves like an R object with one row per input:
# subsetting, head()/tail(), dim()/nrow(), as.data.frame(), and the tidy
# verbs augment(), glance() and tidy() of the 'generics' package.

#' Rows, subsets and data frames of an mc_prediction
#'
#' An `mc_prediction` has one row per input: `res[i, ]` keeps inputs `i`
#' (indices, negative indices or a logical vector) in every field
#' (`mean`, `variance`, `all_samples`, `noise_variance`) with the class names
#' and task; `head()`, `tail()`, `nrow()` and `dim()` (`c(n, classes,
#' samples)`) follow.
#'
#' `as.data.frame()` gives one row per input. Classification: `.pred_class`,
#' the mean probability of each class `.pred_<class>` and the uncertainty
#' scores (as [mc_tidy()]). Regression: `.pred` (the MC mean) and `.pred_sd`
#' (the MC standard deviation), suffixed `_1`, `_2`, ... for several outputs.
#' A dense output `c(n, ..., classes, samples)` gives one row per input and
#' position, with the index columns `.row`, `.dim_1`, ... in front (as
#' [mc_tidy()]).
#'
#' @param x An `mc_prediction`.
#' @param i Inputs to keep.
#' @param j Must be missing: columns are not subset.
#' @param n Number of inputs (negative: all but the last / first `-n`).
#' @param row.names,optional,... Unused (for the generic).
#' @param drop Unused.
#' @return `[`, `head()`, `tail()`: an `mc_prediction`. `dim()`: `c(n,
#'   classes, samples)`. `as.data.frame()`: a data frame.
#' @family prediction
#' @examples
#' s <- array(runif(5 * 3 * 4), c(5, 3, 4))
#' res <- as_mc_prediction(sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/"))
#' mc_class_names(res) <- c("cat", "dog", "bird")
#' nrow(res)
#' res[2:3, ]
#' head(as.data.frame(res), 2)
#' @name mc_prediction-rows
NULL

#' @rdname mc_prediction-rows
#' @export
`[.mc_prediction` <- function(x, i, j, ..., drop = FALSE) {
  if (!missing(j)) {
    .abort("Subset an mc_prediction by inputs only: `res[i, ]`.", "argument", arg = "j")
  }
  n <- dim(x$all_samples)[1]
  if (missing(i)) return(x)
  keep <- seq_len(n)[i]
  if (anyNA(keep)) {
    .abort(sprintf("`i` must select among the %d inputs; it has NA or out-of-range indices.", n),
           "argument", arg = "i")
  }
  out <- unclass(x)
  for (nm in names(out)) {
    el <- out[[nm]]
    d <- dim(el)
    if (length(d) >= 2 && d[1] == n) {  # any rank: dense outputs too
      out[[nm]] <- do.call(`[`, c(list(el, keep), rep(list(quote(expr = )), length(d) - 1),
                                  list(drop = FALSE)))
    }
  }
  if (!is.null(out$n_used)) out$n_used <- out$n_used[keep]
  attributes(out) <- attributes(x)
  out
}

#' @rdname mc_prediction-rows
#' @export
dim.mc_prediction <- function(x) dim(x$all_samples)

#' @rdname mc_prediction-rows
#' @importFrom utils head tail
#' @export
head.mc_prediction <- function(x, n = 6L, ...) {
  total <- nrow(x)
  n <- if (n >= 0) min(n, total) else max(total + n, 0)
  x[seq_len(n), ]
}

#' @rdname mc_prediction-rows
#' @export
tail.mc_prediction <- function(x, n = 6L, ...) {
  total <- nrow(x)
  n <- if (n >= 0) min(n, total) else max(total + n, 0)
  x[total - n + seq_len(n), ]
}

#' @rdname mc_prediction-rows
#' @export
as.data.frame.mc_prediction <- function(x, row.names = NULL, optional = FALSE, ...) {
  if (mc_task(x) == "classification") {
    df <- mc_tidy(x)
  } else {
    df <- .regression_columns(.rows(x), level = NULL)
    if (.is_dense(x)) df <- .dense_table(df, .lead_dims(x))
  }
  rownames(df) <- NULL
  df
}

# Regression targets for a dense output (leading dims `lead`, `outputs`
# outputs) as a matrix c(rows, outputs) in the order of its rows (.rows()):
# an array c(n, ..., outputs), or c(n, ...) for one output.
.dense_targets <- function(y, lead, outputs, arg = "y") {
  dy <- as.integer(dim(y))
  ok <- is.numeric(y) && (identical(dy, as.integer(c(lead, outputs))) ||
                            (outputs == 1 && identical(dy, as.integer(lead))))
  if (!ok) {
    .abort(sprintf(paste0("`%s` must be numeric targets with dim c(%s)%s, one per input, position ",
                          "and output of the dense output, not %s."), arg,
                   paste(c(lead, outputs), collapse = ", "),
                   if (outputs == 1) sprintf(" (or c(%s))", paste(lead, collapse = ", ")) else "",
                   if (is.null(dim(y))) .describe(y) else
                     sprintf("an array with dim c(%s)", paste(dim(y), collapse = ", "))),
           "input", arg = arg)
  }
  matrix(as.double(y), prod(lead), outputs)
}

# .pred, .pred_sd (and .pred_lower / .pred_upper at `level`) per output.
.regression_columns <- function(x, level = 0.9) {
  s <- x$all_samples
  d <- dim(s)
  cols <- list()
  for (j in seq_len(d[2])) {
    sfx <- if (d[2] == 1) "" else paste0("_", j)
    cols[[paste0(".pred", sfx)]] <- x$mean[, j]
    cols[[paste0(".pred_sd", sfx)]] <- sqrt(x$variance[, j])
    if (!is.null(level)) {
      q <- apply(matrix(s[, j, ], d[1], d[3]), 1, stats::quantile,
                 probs = c((1 - level) / 2, (1 + level) / 2), names = FALSE, type = 7)
      cols[[paste0(".pred_lower", sfx)]] <- q[1, ]
      cols[[paste0(".pred_upper", sfx)]] <- q[2, ]
    }
  }
  as.data.frame(cols, optional = TRUE)
}

.as_tibble <- function(df) {
  if (requireNamespace("tibble", quietly = TRUE)) tibble::as_tibble(df) else df
}

.check_level <- function(level) {
  if (!is.numeric(level) || length(level) != 1 || !is.finite(level) || level <= 0 || level >= 1) {
    .abort(sprintf("`level` must be a single number in (0, 1), not %s.", .describe(level)),
           "argument", arg = "level")
  }
  level
}

.check_prediction <- function(x, arg = "x") {
  if (!inherits(x, "mc_prediction")) {
    .abort(sprintf("`%s` must be an mc_prediction, not %s.", arg, .describe(x)), "input", arg = arg)
  }
  x
}

#' Tidy verbs for an mc_prediction: augment(), glance(), tidy()
#'
#' Methods for the generics of the 'generics' package (re-exported by
#' broom and tidymodels; registered when 'generics' is loaded), with the
#' column names of tidymodels.
#'
#' `augment()`: one row per input, the columns of `new_data` (if given),
#' then `truth` (if given), then for classification `.pred_class`,
#' `.pred_<class>` (mean probabilities), `.pred_entropy`,
#' `.pred_mutual_information` and `.pred_variation_ratio`; for regression
#' `.pred` (MC mean), `.pred_sd`, and `.pred_lower` / `.pred_upper`, the
#' central `level` interval of the samples (quantiles, type 7).
#'
#' `glance()`: one row. With `truth`: classification gives `n` and
#' [mc_evaluate_uncertainty()]'s measures; regression `n`, `rmse`, `crps`,
#' `gaussian_nll` and `coverage` (of the `level` interval). Without: `n`,
#' `classes` (or `outputs`), `samples` and mean uncertainty.
#'
#' `tidy()`: one row per input and class (or output): `.row`, `class`
#' (`output`), `mean`, `sd`.
#'
#' A dense output `c(n, ..., classes, samples)` (e.g. a segmentation):
#' `augment()` and `tidy()` give one row per input and position (and class),
#' input by input, with `.row` (the input) and `.dim_1`, `.dim_2`, ... (the
#' position, from 1) in front (as [mc_tidy()]); `new_data`, one row per
#' input, is repeated for each position; `truth` is an array `c(n, ...)`
#' (regression: `c(n, ..., outputs)`, or `c(n, ...)` for one output), not a
#' column name. `glance()` stays one row: `n` inputs, then `positions` (per
#' input), and its measures pool the positions (as
#' [mc_evaluate_uncertainty()]).
#'
#' @param x An `mc_prediction`.
#' @param new_data Optional data frame of the inputs, one row each, whose
#'   columns are kept in front.
#' @param truth Optional labels (classification: as in
#'   [mc_evaluate_uncertainty()]) or targets (regression); or the name of a
#'   column of `new_data` that holds them.
#' @param level Nominal coverage of the regression interval.
#' @param n_bins Bins of the calibration errors.
#' @param ignore Classification with `truth`: `NULL`, or label values (e.g.
#'   `255`) or a logical array shaped like `truth`, `TRUE` = leave out:
#'   `augment()` keeps those rows with `truth` `NA`, `glance()` leaves them
#'   out of its measures.
#' @param ... Unused.
#' @return A tibble (a data frame where 'tibble' is not installed).
#' @family evaluation
#' @examplesIf requireNamespace("generics", quietly = TRUE)
#' s <- array(runif(5 * 3 * 4), c(5, 3, 4))
#' res <- as_mc_prediction(sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/"))
#' mc_class_names(res) <- c("cat", "dog", "bird")
#' generics::augment(res, truth = c("cat", "dog", "dog", "bird", "cat"))
#' generics::glance(res, truth = c(0, 1, 1, 2, 0))
#' @name mc_tidy_verbs
NULL

.truth_from <- function(truth, new_data) {
  if (is.character(truth) && length(truth) == 1 && !is.null(new_data) && truth %in% names(new_data)) {
    return(list(values = new_data[[truth]], column = truth))
  }
  list(values = truth, column = NULL)
}

#' @rdname mc_tidy_verbs
#' @exportS3Method generics::augment
augment.mc_prediction <- function(x, new_data = NULL, truth = NULL, level = 0.9, ignore = NULL,
                                  ...) {
  n <- nrow(x)
  lead <- .lead_dims(x)
  if (!is.null(new_data)) {
    if (!is.data.frame(new_data) || nrow(new_data) != n) {
      .abort(sprintf("`new_data` must be a data frame with one row per input (%d), not %s.",
                     n, if (is.data.frame(new_data)) sprintf("%d rows", nrow(new_data)) else .describe(new_data)),
             "input", arg = "new_data")
    }
  }
  t <- .truth_from(truth, new_data)
  if (mc_task(x) == "regression") {
    level <- .check_level(level)
    if (!is.null(ignore)) {
      .abort("`ignore` is for class labels; leave out regression rows by subsetting.", "argument",
             arg = "ignore")
    }
    xr <- .rows(x)
    out <- .regression_columns(xr, level)
    if (!is.null(t$values) && is.null(t$column)) {
      y <- if (is.null(lead)) .mcreg_targets(t$values, n, ncol(x$mean)) else
        .mcreg_targets(.dense_targets(t$values, lead, ncol(xr$mean), "truth"), nrow(xr$mean),
                       ncol(xr$mean))
      truth_cols <- as.data.frame(if (ncol(y) == 1) list(truth = y[, 1]) else
        stats::setNames(as.list(as.data.frame(y)), paste0("truth_", seq_len(ncol(y)))))
      out <- cbind(truth_cols, out)
    }
    if (!is.null(lead)) out <- .dense_table(out, lead)
  } else {
    tidy <- mc_tidy(x, truth = t$values, ignore = ignore)
    if (!is.null(t$column)) tidy$truth <- NULL
    out <- tidy[setdiff(names(tidy), vapply(names(.mc_scores), .score_column, ""))]
    out$.pred_entropy <- tidy$predictive_entropy
    out$.pred_mutual_information <- tidy$mutual_information
    out$.pred_variation_ratio <- tidy$variation_ratio
  }
  if (!is.null(new_data)) {
    new_data <- as.data.frame(new_data)
    if (!is.null(lead)) {   # one row per input: repeated for each of its positions
      new_data <- new_data[out$.row, , drop = FALSE]
      rownames(new_data) <- NULL
    }
    out <- cbind(new_data, out)
  }
  .as_tibble(out)
}

#' @rdname mc_tidy_verbs
#' @exportS3Method generics::glance
glance.mc_prediction <- function(x, truth = NULL, level = 0.9, n_bins = 15, ignore = NULL, ...) {
  n <- nrow(x)
  d <- dim(x)
  k <- length(d)
  lead <- .lead_dims(x)
  out <- data.frame(n = n)
  if (!is.null(lead)) out$positions <- as.integer(prod(lead[-1]))
  if (mc_task(x) == "regression") {
    level <- .check_level(level)
    if (!is.null(ignore)) {
      .abort("`ignore` is for class labels; leave out regression rows by subsetting.", "argument",
             arg = "ignore")
    }
    out$outputs <- d[k - 1]
    out$samples <- d[k]
    if (is.null(truth)) {
      out$mean_sd <- mean(sqrt(x$variance))
    } else {
      xr <- .rows(x)
      if (!is.null(lead)) truth <- .dense_targets(truth, lead, d[k - 1], "truth")
      out$rmse <- mc_rmse(xr, truth)
      out$crps <- mc_crps(xr, truth)
      out$gaussian_nll <- if (d[k] >= 2) mc_gaussian_nll(xr, y = truth) else NA_real_
      out$coverage <- mc_interval_coverage(xr, truth, level)
    }
  } else if (is.null(truth)) {
    if (!is.null(ignore)) .abort("`ignore` needs `truth`.", "argument", arg = "ignore")
    out$classes <- d[k - 1]
    out$samples <- d[k]
    out$mean_predictive_entropy <- mean(mc_predictive_entropy(x))
    out$mean_mutual_information <- mean(mc_mutual_information(x))
  } else {
    out <- cbind(out, mc_evaluate_uncertainty(x, truth, n_bins = n_bins, ignore = ignore))
  }
  .as_tibble(out)
}

#' @rdname mc_tidy_verbs
#' @exportS3Method generics::tidy
tidy.mc_prediction <- function(x, ...) {
  lead <- .lead_dims(x)
  xr <- .rows(x)
  d <- dim(xr)
  reg <- mc_task(x) == "regression"
  what <- if (reg) seq_len(d[2]) else factor(.class_labels(xr), levels = .class_labels(xr))
  r <- rep(seq_len(d[1]), d[2])
  out <- data.frame(what = rep(what, each = d[1]), mean = as.vector(xr$mean),
                    sd = sqrt(as.vector(xr$variance)))
  names(out)[1] <- if (reg) "output" else "class"
  if (is.null(lead)) {
    out <- cbind(data.frame(.row = r), out)[order(r, method = "radix"), ]
  } else {   # input by input, then position, then class
    pos <- .position_index(lead)
    out <- cbind(pos$index[r, , drop = FALSE], out)[order(pos$index$.row[r], r, method = "radix"), ]
  }
  rownames(out) <- NULL
  .as_tibble(out)
}
