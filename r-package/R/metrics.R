# Uncertainty measures in native R (they agree with Python's mcbridge.metrics).

.as_samples <- function(x, arg = "x") {
  if (inherits(x, "mc_prediction")) x <- x$all_samples
  d <- dim(x)
  if (!is.numeric(x) || length(d) < 3) {
    .abort(sprintf(paste0("`%s` must be an mc_prediction or a numeric array with ",
                          "dim c(n, classes, samples) (or c(n, ..., classes, samples)), not %s."),
                   arg, .describe(x)), "input", arg = arg)
  }
  if (length(x) == 0) .abort(sprintf("`%s` is empty.", arg), "input", arg = arg)
  x
}

# Functions that rank or draw inputs (mc_select_uncertain(), autoplot())
# refuse a dense output c(n, ..., classes, samples) in words: what to do
# instead is `hint`. The measures work on it per position; the evaluation,
# calibration, conformal and tidy functions pool its positions (.pool()).
.check_flat <- function(x, arg, hint) {
  s <- if (inherits(x, "mc_prediction")) x$all_samples else x
  d <- dim(s)
  if (is.numeric(s) && length(d) > 3) {
    .abort(sprintf("`%s` is a dense output (dim c(%s)): %s", arg, paste(d, collapse = ", "), hint),
           "input", arg = arg)
  }
  invisible(x)
}

# Whether `x` (an mc_prediction or an array) is a dense output.
.is_dense <- function(x) {
  s <- if (inherits(x, "mc_prediction")) x$all_samples else x
  is.numeric(s) && length(dim(s)) > 3
}

# A dense output as rows: samples c(n, ..., classes, samples) become
# c(rows, classes, samples), rows = n * positions in R's column-major order
# (the input index varies fastest, then the positions: Python's
# pooled(), order "F"). A change of dim, no copy. An mc_prediction keeps its
# class names and task; `mean` and `variance` become c(rows, classes) and
# `n_used` is repeated for every position. Other `x` come back as they are.
.rows <- function(x) {
  if (!.is_dense(x)) return(x)
  if (!inherits(x, "mc_prediction")) {
    d <- dim(x)
    k <- length(d)
    dim(x) <- c(prod(d[seq_len(k - 2)]), d[k - 1], d[k])
    return(x)
  }
  d <- dim(x$all_samples)
  k <- length(d)
  rows <- prod(d[seq_len(k - 2)])
  dim(x$all_samples) <- c(rows, d[k - 1], d[k])
  dim(x$mean) <- dim(x$variance) <- c(rows, d[k - 1])
  x$mean <- .name_columns(x$mean, mc_class_names(x))
  x$variance <- .name_columns(x$variance, mc_class_names(x))
  if (!is.null(x$n_used)) x$n_used <- rep_len(x$n_used, rows)
  x
}

# The leading dims c(n, ...) of a dense output (NULL for one prediction per input).
.lead_dims <- function(x) {
  if (!.is_dense(x)) return(NULL)
  d <- dim(if (inherits(x, "mc_prediction")) x$all_samples else x)
  d[seq_len(length(d) - 2)]
}

# Predictions and labels with the positions of a dense output pooled as rows
# (.rows(); labels `y` with dim c(n, ...) in the same order) and the rows
# that `ignore` names left out: a label value (or several) compared with `y`
# as given (a number with numbers; a level or name with a factor or
# character labels), or a logical array shaped like `y`, TRUE = leave out.
# Returns list(x, y, keep): `y` as given (codes later, .class_codes()),
# without dims; `keep` the logical row mask (NULL without `ignore`).
.pool <- function(x, y, ignore = NULL, arg = "x", y_arg = "y") {
  lead <- .lead_dims(x)
  if (!is.null(lead) && !missing(y) && !is.null(y)) {
    if (is.data.frame(y)) {
      .abort(sprintf("`%s` must be an array of labels with dim c(%s), not a data.frame.", y_arg,
                     paste(lead, collapse = ", ")), "input", arg = y_arg)
    }
    dy <- dim(y)
    if (!identical(as.integer(dy), as.integer(lead))) {
      k <- dim(if (inherits(x, "mc_prediction")) x$all_samples else x)[length(lead) + 1]
      hint <- if (is.null(dy) && length(y) == prod(lead)) {
        sprintf(paste0(" It has the right length: if `%s[i, ...]` is the label of input i at that ",
                       "position in R's (column-major) order, set dim(%s) <- c(%s)."),
                y_arg, y_arg, paste(lead, collapse = ", "))
      } else if (identical(as.integer(dy), as.integer(c(lead, k)))) {
        sprintf(" These look one-hot encoded: pass apply(%s, 1:%d, which.max) - 1.", y_arg,
                length(lead))
      } else ""
      .abort(sprintf(paste0("`%s` must hold one label per input and position of the dense output ",
                            "`%s`: an array with dim c(%s) (the leading dims of `%s`), not %s.%s"),
                     y_arg, arg, paste(lead, collapse = ", "), arg,
                     if (is.null(dy)) .describe(y) else
                       sprintf("an array with dim c(%s)", paste(dy, collapse = ", ")), hint),
             "input", arg = y_arg)
    }
    dim(y) <- NULL
    x <- .rows(x)
  }
  keep <- .ignore_keep(y, ignore, lead, y_arg)
  if (!is.null(keep)) {
    if (!all(keep)) {
      n <- if (inherits(x, "mc_prediction")) dim(x$all_samples)[1] else NROW(x)
      if (length(keep) != n) {   # flat labels of the wrong length: .class_codes() says so
        .class_codes(y, n, arg = y_arg)
      }
      x <- .keep_rows(x, keep)
      y <- y[keep]
    }
  }
  list(x = x, y = y, keep = keep)
}

# Which labels (`y` without dims: a dense output's pooled positions) to
# keep: NULL without `ignore`, else a logical vector (see .pool()).
.ignore_keep <- function(y, ignore, lead = NULL, y_arg = "y") {
  if (is.null(ignore)) return(NULL)
  if (missing(y) || is.null(y)) {
    .abort(sprintf("`ignore` needs the labels `%s`.", y_arg), "argument", arg = "ignore")
  }
  n_y <- length(y)
  if (length(ignore) == 1 && is.na(ignore)) {
    .abort(sprintf("`ignore` must not be NA; to leave out NA labels, pass ignore = is.na(%s).", y_arg),
           "argument", arg = "ignore")
  }
  if (is.logical(ignore)) {
    shape <- if (is.null(lead)) n_y else lead
    di <- dim(ignore) %||% length(ignore)
    if (!identical(as.integer(di), as.integer(shape)) || anyNA(ignore)) {
      .abort(sprintf(paste0("`ignore` must be a label value or a logical %s without NA (TRUE = ",
                            "leave out), shaped like `%s` (%s), not %s."),
                     if (is.null(lead)) "vector" else "array", y_arg,
                     if (is.null(lead)) sprintf("length %d", n_y) else
                       sprintf("dim c(%s)", paste(lead, collapse = ", ")),
                     if (is.null(dim(ignore))) .describe(ignore) else
                       sprintf("an array with dim c(%s)", paste(dim(ignore), collapse = ", "))),
             "argument", arg = "ignore")
    }
    keep <- !as.vector(ignore)
  } else if ((is.numeric(ignore) && is.numeric(y)) ||
             ((is.character(ignore) || is.factor(ignore) || is.numeric(ignore)) &&
              (is.factor(y) || is.character(y)))) {
    if (anyNA(ignore) || length(ignore) == 0) {
      .abort(sprintf(paste0("`ignore` must be label values without NA; to leave out NA labels, ",
                            "pass ignore = is.na(%s)."), y_arg), "argument", arg = "ignore")
    }
    keep <- if (is.numeric(y)) !(y %in% ignore) else !(as.character(y) %in% as.character(ignore))
  } else {
    .abort(sprintf(paste0("`ignore` must be a label value of `%s` (%s) or a logical array shaped ",
                          "like `%s`, TRUE = leave out; not %s."), y_arg,
                   if (is.numeric(y)) "a number" else "a level or class name", y_arg,
                   .describe(ignore)), "argument", arg = "ignore")
  }
  if (!any(keep)) {
    .abort(sprintf("`ignore` leaves out all %d labels: nothing is left to evaluate.", n_y),
           "argument", arg = "ignore")
  }
  keep
}

# Rows `keep` of an mc_prediction, a matrix c(n, classes) or an array
# c(n, classes, samples).
.keep_rows <- function(x, keep) {
  if (inherits(x, "mc_prediction")) return(x[keep, ])
  if (length(dim(x)) == 2) return(x[keep, , drop = FALSE])
  if (length(dim(x)) == 3) return(x[keep, , , drop = FALSE])
  x
}

# `fn` of samples c(rows, classes, samples) at every input and position:
# c(n, ...) for a dense output, a vector of length n otherwise. A dense
# array c(n, ..., classes, samples) is c(n * positions, classes, samples) in
# R's column-major order (a change of dim, no copy): position-major rows,
# so row r belongs to input (r - 1) %% n + 1. With n_used, rows of the same
# count together, each over its own samples only.
.per_row <- function(x, fn, arg = "x") {
  s <- .as_samples(x, arg)
  used <- if (inherits(x, "mc_prediction")) x$n_used
  d <- dim(s)
  k <- length(d)
  lead <- d[seq_len(k - 2)]
  rows <- prod(lead)
  dim(s) <- c(rows, d[k - 1], d[k])
  if (is.null(used) || all(used == d[k])) {
    out <- fn(s)
  } else {
    count <- rep_len(used, rows)
    out <- numeric(rows)
    for (c in unique(count)) {
      idx <- which(count == c)
      out[idx] <- fn(s[idx, , seq_len(c), drop = FALSE])
    }
  }
  if (length(lead) > 1) dim(out) <- lead
  out
}

.check_probs <- function(p) {
  if (anyNA(p) || any(!is.finite(p)) || min(p) < -1e-6 || max(p) > 1 + 1e-6) {
    .abort(paste0("`x` must hold probabilities in [0, 1]; if these are logits, ",
                  "apply a softmax over the classes (2nd) dimension first. (Samples padded ",
                  "with NaN need their counts: as_mc_prediction(x, n_used = ...).)"), "input", arg = "x")
  }
  sums <- Reduce(`+`, lapply(seq_len(dim(p)[2]), function(j) p[, j, ]))
  if (max(abs(sums - 1)) > 1e-3) {
    .abort("`x` must hold probabilities that sum to 1 over the classes (2nd) dimension.", "input",
           arg = "x")
  }
  p[p < 0] <- 0
  p[p > 1] <- 1
  p
}

.plogp <- function(p) {
  out <- p * log(p)
  out[p == 0] <- 0
  out
}

.pe <- function(p) -rowSums(.plogp(rowMeans(p, dims = 2)))
.ee <- function(p) -rowSums(.plogp(p), dims = 1) / dim(p)[3]

#' Uncertainty measures of MC dropout samples
#'
#' Computed in R on an [mc_prediction][mc_predict()] or any array of class
#' probabilities with `dim = c(n, classes, samples)`; natural logarithms, with
#' `0 * log(0) = 0`. They agree with Python's `mcbridge.metrics` to 1e-6. A
#' dense output `c(n, ..., classes, samples)` gives one value per input and
#' position, `dim = c(n, ...)`; an adaptive result (`n_used`) uses each
#' input's own samples.
#'
#' * `mc_predictive_entropy()`: entropy of the mean prediction (total
#'   uncertainty).
#' * `mc_expected_entropy()`: mean over samples of each sample's entropy
#'   (aleatoric).
#' * `mc_mutual_information()`: predictive minus expected entropy, at least 0
#'   (BALD; epistemic).
#' * `mc_variation_ratio()`: `1 - f / S`, where `f` is the number of samples
#'   whose top class is the most frequent top class (ties go to the lowest
#'   class).
#'
#' @param x An `mc_prediction` or a numeric array `c(n, classes, samples)`
#'   (or `c(n, ..., classes, samples)`).
#' @return A numeric vector of length `n` (an array `c(n, ...)` for a dense
#'   output); integer for `mc_predicted_class()`.
#' @examples
#' p <- array(c(0.9, 0.2, 0.1, 0.8, 0.6, 0.3, 0.4, 0.7), c(2, 2, 2))
#' mc_predictive_entropy(p)
#' mc_expected_entropy(p)
#' mc_mutual_information(p)
#' mc_variation_ratio(p)
#' @family metrics
#' @name mc_uncertainty
NULL

#' @rdname mc_uncertainty
#' @export
mc_predictive_entropy <- function(x) {
  .per_row(x, function(p) .pe(.check_probs(p)))
}

#' @rdname mc_uncertainty
#' @export
mc_expected_entropy <- function(x) {
  .per_row(x, function(p) .ee(.check_probs(p)))
}

#' @rdname mc_uncertainty
#' @export
mc_mutual_information <- function(x) {
  .per_row(x, function(p) {
    p <- .check_probs(p)
    pmax(.pe(p) - .ee(p), 0)
  })
}

.variation_ratio <- function(p) {
  d <- dim(p)
  n <- d[1]; k <- d[2]; s <- d[3]
  # Top class of every (input, sample): rows of the (n * s) x k matrix.
  top <- max.col(matrix(aperm(p, c(1, 3, 2)), n * s, k), ties.method = "first")
  item <- rep(seq_len(n), times = s)
  counts <- matrix(tabulate(item + (top - 1L) * n, n * k), n, k)
  1 - counts[cbind(seq_len(n), max.col(counts, ties.method = "first"))] / s
}

#' @rdname mc_uncertainty
#' @export
mc_variation_ratio <- function(x) {
  .per_row(x, function(p) .variation_ratio(.check_probs(p)))
}

#' @rdname mc_uncertainty
#' @details * `mc_one_minus_max_probability()`: `1 - ` the largest mean class
#'   probability (the maximum-softmax-probability baseline, turned so that
#'   larger means more uncertain; score `"max_probability"` as in Python).
#' @export
mc_one_minus_max_probability <- function(x) {
  .per_row(x, function(p) {
    m <- rowMeans(.check_probs(p), dims = 2)
    1 - m[cbind(seq_len(nrow(m)), max.col(m, ties.method = "first"))]
  })
}

#' @rdname mc_uncertainty
#' @details * `mc_predicted_class()`: the class with the largest mean
#'   probability (first on ties), counted from 0 as in Python.
#' @export
mc_predicted_class <- function(x) {
  out <- .per_row(x, function(p) {
    m <- rowMeans(.check_probs(p), dims = 2)
    max.col(m, ties.method = "first") - 1L
  })
  storage.mode(out) <- "integer"
  out
}

#' Monte Carlo standard error of a summary
#'
#' How much a summary of an MC prediction would move with other samples: the
#' sign that `n_samples` is too small. As Python's
#' `MCResult.mc_standard_error()`, with each input's own count of samples
#' (`n_used` after adaptive sampling).
#'
#' * `measure = "mean"`: of the mean probabilities (or outputs),
#'   `sqrt(variance / count)`, shaped like `mean`.
#' * `"predictive_entropy"`, `"expected_entropy"`, `"mutual_information"`:
#'   of that estimate, by the jackknife over samples (each sample left out in
#'   turn), one value per input (and position).
#'
#' @param x An `mc_prediction` (or an array `c(n, ..., classes, samples)`).
#' @param measure Which summary: `"mean"`, `"predictive_entropy"`,
#'   `"expected_entropy"` or `"mutual_information"`.
#' @return A numeric array; NA where an input has one sample.
#' @family metrics
#' @examples
#' p <- array(c(0.9, 0.2, 0.1, 0.8, 0.6, 0.3, 0.4, 0.7, 0.8, 0.4, 0.2, 0.6), c(2, 2, 3))
#' mc_standard_error(p)
#' mc_standard_error(p, "mutual_information")
#' @export
mc_standard_error <- function(x, measure = "mean") {
  measure <- .check_string(measure, "measure",
                           c("mean", "predictive_entropy", "expected_entropy", "mutual_information"))
  if (!inherits(x, "mc_prediction")) x <- as_mc_prediction(.as_samples(x))
  if (measure == "mean") {
    d <- dim(x$mean)
    return(sqrt(x$variance / array(.counts(x), d)))   # the counts recycle along the inputs
  }
  if (mc_task(x) != "classification") {
    .abort(sprintf(paste0("`measure = \"%s\"` needs class probabilities, but `x` is a regression ",
                          "result; use `measure = \"mean\"`."), measure), "input", arg = "x")
  }
  .per_row(x, function(p) .jackknife_se(.check_probs(p), measure))
}

# Jackknife standard error of an entropy measure of p c(rows, classes, s).
.jackknife_se <- function(p, measure) {
  d <- dim(p)
  rows <- d[1]; k <- d[2]; s <- d[3]
  if (s < 2) return(rep(NA_real_, rows))
  total <- matrix(0, rows, k)
  for (j in seq_len(s)) total <- total + p[, , j]
  ent <- function(q) -rowSums(.plogp(q))
  loo <- matrix(0, rows, s)   # the measure with sample j left out
  h <- if (measure != "predictive_entropy") {
    matrix(vapply(seq_len(s), function(j) ent(matrix(p[, , j], rows, k)), numeric(rows)), rows, s)
  }
  h_total <- if (!is.null(h)) rowSums(h)
  for (j in seq_len(s)) {
    pj <- matrix(p[, , j], rows, k)
    pe <- if (measure != "expected_entropy") ent((total - pj) / (s - 1))
    ee <- if (!is.null(h)) (h_total - h[, j]) / (s - 1)
    loo[, j] <- switch(measure, predictive_entropy = pe, expected_entropy = ee,
                       mutual_information = pe - ee)
  }
  dev <- loo - rowMeans(loo)
  sqrt((s - 1) / s * rowSums(dev^2))
}

# The one registry of uncertainty scores by name (Python: SCORES in
# mcbridge/metrics/uncertainty.py, same names, same order). Larger means more
# uncertain; adding a score here adds it to every function that takes `score`
# and to mc_evaluate_uncertainty().
.mc_scores <- list(
  predictive_entropy = function(x) mc_predictive_entropy(x),
  mutual_information = function(x) mc_mutual_information(x),
  variation_ratio = function(x) mc_variation_ratio(x),
  max_probability = function(x) mc_one_minus_max_probability(x)
)

# Column names of the scores in tables: the score named by what it is.
.score_column <- function(name) {
  if (name == "max_probability") "one_minus_max_probability" else name
}

# ---- errors and checks of the evaluation functions ---------------------------

.check_score <- function(score) {
  if (!is.character(score) || length(score) != 1 || is.na(score)) {
    .abort(sprintf("`score` must be a single string, not %s.", .describe(score)), "argument",
           arg = "score")
  }
  if (identical(score, "one_minus_max_probability")) score <- "max_probability"
  if (!score %in% names(.mc_scores)) {
    .abort(sprintf("`score` must be one of %s, not \"%s\".",
                   paste0("\"", names(.mc_scores), "\"", collapse = ", "), score),
           "argument", arg = "score")
  }
  score
}

.score_of <- function(x, score) .mc_scores[[.check_score(score)]](x)

.check_n_bins <- function(n_bins) {
  ok <- is.numeric(n_bins) && length(n_bins) == 1 && !is.na(n_bins) &&
    is.finite(n_bins) && n_bins == round(n_bins) && n_bins >= 1
  if (!isTRUE(ok)) {
    .abort(sprintf("`n_bins` must be a single whole number >= 1, not %s.",
                   .describe(n_bins)), "argument", arg = "n_bins")
  }
  as.integer(n_bins)
}

# Mean probabilities (n x classes) of an mc_prediction, a samples array
# c(n, classes, samples) or a probability matrix c(n, classes); a dense
# output's positions as rows (.rows()).
.mean_probs <- function(probs) {
  probs <- .rows(probs)
  if (inherits(probs, "mc_prediction")) return(probs$mean)
  if (is.numeric(probs) && length(dim(probs)) == 2) {
    if (length(probs) == 0) .abort("`probs` is empty.", "input", arg = "probs")
    if (anyNA(probs)) .abort("`probs` must not contain NA values.", "input", arg = "probs")
    return(probs)
  }
  if (!is.numeric(probs) || length(dim(probs)) != 3) {
    .abort(sprintf(paste0("`probs` must be an mc_prediction, a numeric array with ",
                          "dim c(n, classes, samples) or a matrix c(n, classes), not %s."),
                   .describe(probs)), "input", arg = "probs")
  }
  rowMeans(.check_probs(.as_samples(probs)), dims = 2)
}

# Mean probabilities and labels as 0-based codes (the one rule:
# .class_codes()), a dense output's positions pooled as rows and the rows
# `ignore` names left out (.pool()). `x`: the pooled predictions.
.probs_labels <- function(probs, y, arg = "y", ignore = NULL, x_arg = "probs") {
  if (missing(y)) .class_codes(arg = arg)   # says that the labels are missing
  d <- .pool(probs, y, ignore, arg = x_arg, y_arg = arg)
  p <- .mean_probs(d$x)
  list(p = p, y = .class_codes(d$y, nrow(p), ncol(p), .names_of(probs), arg), x = d$x)
}

.top <- function(p) max.col(p, ties.method = "first")

# ---- calibration -------------------------------------------------------------

#' Calibration of predicted class probabilities
#'
#' Are the probabilities honest about the labels? Computed natively in R, with
#' the same names (with an `mc_` prefix) and values as Python's
#' `mcbridge.metrics` (to 1e-6).
#'
#' * `mc_accuracy()`: fraction of inputs whose top class (first on ties) is
#'   the label.
#' * `mc_negative_log_likelihood()`: mean of `-log(max(p[i, y_i], eps))` in
#'   nats; only the probability of the true class is floored at `eps`.
#' * `mc_brier_score()`: mean over inputs of the summed squared error against
#'   one-hot labels, in `[0, 2]`.
#' * `mc_expected_calibration_error()`: top-label calibration error. Inputs
#'   are binned by confidence `c` (the largest probability): equal-width bins
#'   put an input in bin `min(floor(c * n_bins), n_bins - 1)` (from 0);
#'   equal-mass bins (`adaptive = TRUE`) sort the inputs by confidence (ties
#'   by position) and put rank `r` (from 0) in bin `floor(r * n_bins / n)`.
#'   With `w_b` the share of inputs in bin `b` and `g_b` the gap between its
#'   accuracy and mean confidence, `norm = "l1"` is the ECE `sum(w_b g_b)`,
#'   `"l2"` the RMS calibration error `sqrt(sum(w_b g_b^2))` and `"max"` the
#'   MCE `max(g_b)` (as torch-uncertainty's `CalibrationError`).
#'
#' A dense output `c(n, ..., classes, samples)` (e.g. a segmentation) with
#' labels `c(n, ...)` counts every input and position as one prediction, as
#' Python does; `ignore` leaves positions out (a void label, padding).
#'
#' @param probs An `mc_prediction`, an array of sampled probabilities
#'   `c(n, classes, samples)` (their mean over samples is used) or a matrix of
#'   probabilities `c(n, classes)`; or a dense output
#'   `c(n, ..., classes, samples)` (an `mc_prediction` or an array).
#' @param y Labels: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names. For a dense output, an array (numeric,
#'   character, or a factor with `dim`) with `dim = c(n, ...)`, the leading
#'   dims of `probs`.
#' @param ignore `NULL`, or what to leave out: label values (e.g. `255`, a
#'   void label; compared with `y` as given, so a level or name for factor or
#'   character labels), or a logical array shaped like `y`, `TRUE` = leave
#'   out (e.g. `is.na(y)` or padding).
#' @param eps Floor on the probability of the true class.
#' @param n_bins Number of confidence bins.
#' @param adaptive `FALSE` for equal-width bins, `TRUE` for equal-mass bins.
#' @param norm `"l1"` (ECE), `"l2"` (RMS) or `"max"` (MCE).
#' @return A single number. Errors (class `mcbridge_error_input`) name labels
#'   that do not match `probs` in number, dims or classes; an `ignore` of
#'   another shape than `y`, or one that leaves nothing, is an
#'   `mcbridge_error_argument`.
#' @family evaluation
#' @examples
#' p <- rbind(c(0.4, 0.3, 0.3), c(0.45, 0.35, 0.2), c(0.6, 0.2, 0.2),
#'            c(0.1, 0.8, 0.1), c(0.05, 0.05, 0.9))
#' y <- c(0, 1, 0, 0, 2)
#' mc_accuracy(p, y)
#' mc_negative_log_likelihood(p, y)
#' mc_brier_score(p, y)
#' mc_expected_calibration_error(p, y, n_bins = 2)       # 0.09
#' mc_expected_calibration_error(p, y, n_bins = 2, norm = "max")
#' # a dense output: 2 inputs x 3 positions, labels c(2, 3), 255 = void
#' s <- array(c(0.7, 0.2, 0.6, 0.1, 0.5, 0.9, 0.3, 0.8, 0.4, 0.9, 0.5, 0.1), c(2, 3, 2, 1))
#' yd <- matrix(c(0, 1, 0, 255, 1, 0), 2, 3)
#' mc_accuracy(s, yd, ignore = 255)
#' @name mc_calibration
NULL

#' @rdname mc_calibration
#' @export
mc_accuracy <- function(probs, y, ignore = NULL) {
  d <- .probs_labels(probs, y, ignore = ignore)
  mean(.top(d$p) - 1L == d$y)
}

#' @rdname mc_calibration
#' @export
mc_negative_log_likelihood <- function(probs, y, eps = 1e-12, ignore = NULL) {
  d <- .probs_labels(probs, y, ignore = ignore)
  -mean(log(pmax(d$p[cbind(seq_along(d$y), d$y + 1L)], eps)))
}

#' @rdname mc_calibration
#' @export
mc_brier_score <- function(probs, y, ignore = NULL) {
  d <- .probs_labels(probs, y, ignore = ignore)
  onehot <- matrix(0, nrow(d$p), ncol(d$p))
  onehot[cbind(seq_along(d$y), d$y + 1L)] <- 1
  mean(rowSums((d$p - onehot)^2))
}

# Per-bin counts, mean confidence and accuracy (NaN for empty bins).
.calibration_bins <- function(p, y, n_bins, adaptive) {
  n <- nrow(p)
  top <- .top(p)
  conf <- p[cbind(seq_len(n), top)]
  correct <- as.numeric(top - 1L == y)
  if (adaptive) {
    bins <- integer(n)
    bins[order(conf, method = "radix")] <- ((seq_len(n) - 1) * n_bins) %/% n
  } else {
    bins <- pmin(floor(conf * n_bins), n_bins - 1)
  }
  f <- factor(bins, levels = seq_len(n_bins) - 1)
  count <- as.numeric(tabulate(as.integer(f), n_bins))
  list(count = count,
       confidence = vapply(split(conf, f), sum, 0) / count,
       accuracy = vapply(split(correct, f), sum, 0) / count,
       conf = conf, correct = correct, bins = bins)
}

#' @rdname mc_calibration
#' @export
mc_expected_calibration_error <- function(probs, y, n_bins = 15, adaptive = FALSE,
                                          norm = "l1", ignore = NULL) {
  n_bins <- .check_n_bins(n_bins)
  if (!is.logical(adaptive) || length(adaptive) != 1 || is.na(adaptive)) {
    .abort(sprintf("`adaptive` must be TRUE or FALSE, not %s.", .describe(adaptive)), "argument",
           arg = "adaptive")
  }
  if (!is.character(norm) || length(norm) != 1 || !norm %in% c("l1", "l2", "max")) {
    .abort(sprintf("`norm` must be one of \"l1\", \"l2\", \"max\", not %s.",
                   .describe(norm)), "argument", arg = "norm")
  }
  d <- .probs_labels(probs, y, ignore = ignore)
  b <- .calibration_bins(d$p, d$y, n_bins, adaptive)
  keep <- b$count > 0
  w <- b$count[keep] / sum(b$count)
  gap <- abs(b$accuracy[keep] - b$confidence[keep])
  switch(norm, l1 = sum(w * gap), l2 = sqrt(sum(w * gap^2)), max = max(gap))
}
