# Does uncertainty flag wrong or unfamiliar inputs? Evaluation in one call, and
# selection of the inputs to look at next. Native R; the same names (with an
# mc_ prefix) and values as Python's mcbridge.metrics / mcbridge.evaluate.

# An mc_prediction or a samples array c(n, classes, samples); a dense
# output c(n, ..., classes, samples) as rows (.rows()).
.check_samples_arg <- function(x, arg) {
  if (inherits(x, "mc_prediction")) return(.rows(x))
  if (!is.numeric(x) || length(dim(x)) < 3) {
    .abort(sprintf(paste0("`%s` must be an mc_prediction or a numeric array with ",
                          "dim c(n, classes, samples) (or c(n, ..., classes, samples)), not %s."),
                   arg, .describe(x)), "input", arg = arg)
  }
  .rows(x)
}

# Samples and 0-based labels, positions pooled and `ignore` left out.
.samples_labels <- function(x, y, ignore, arg) {
  if (missing(y)) .class_codes(arg = "y")
  .check_samples_arg(x, arg)   # checks `x` before the labels
  d <- .probs_labels(x, y, ignore = ignore, x_arg = arg)
  list(x = .check_samples_arg(d$x, arg), p = d$p, y = d$y)
}

.auroc <- function(scores, positives) {
  n_pos <- sum(positives)
  n_neg <- length(positives) - n_pos
  if (n_pos == 0 || n_neg == 0) return(NaN)
  (sum(rank(scores)[positives]) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
}

.fpr_at_tpr <- function(scores, positives, tpr = 0.95) {
  pos <- sort(scores[positives], decreasing = TRUE)
  neg <- scores[!positives]
  if (length(pos) == 0 || length(neg) == 0) return(NaN)
  k <- max(ceiling(tpr * length(pos) - 1e-9), 1)
  mean(neg >= pos[k])
}

.wrong <- function(x, y) {
  d <- .probs_labels(x, y)
  .top(d$p) - 1L != d$y
}

.risk_coverage <- function(x, y, score, ignore = NULL) {
  d <- .samples_labels(x, y, ignore, "x")
  s <- .score_of(d$x, score)
  wrong <- as.numeric(.top(d$p) - 1L != d$y)
  o <- order(s, method = "radix")
  ss <- s[o]
  # tied scores count as the mean error of their tie group
  g <- match(ss, unique(ss))
  errors <- cumsum((rowsum(wrong[o], g, reorder = FALSE)[, 1] / tabulate(g))[g])
  n <- length(s)
  k <- seq_len(n)
  data.frame(coverage = k / n, risk = errors / k, generalized_risk = errors / n)
}

#' Does uncertainty flag wrong or unfamiliar inputs?
#'
#' Detection measures of an uncertainty score, computed natively in R with
#' the same names (with an `mc_` prefix) and values as Python's
#' `mcbridge.metrics` (to 1e-6). The predicted class is the top mean
#' probability (first on ties).
#'
#' * `mc_misclassification_auroc()`: AUROC of the score for flagging wrong
#'   predictions (ties count half; 0.5 is chance, 1 perfect).
#' * `mc_aurc()`: area under the risk-coverage curve, the mean over
#'   `k = 1..n` of the error rate among the `k` least uncertain inputs (lower
#'   is better). Inputs with tied scores count as the mean error of their tie
#'   group, so the value does not depend on the order of the inputs.
#'   `mc_augrc()`: the same with the errors divided by `n` instead of `k`
#'   (generalized risk, Traub et al. 2024).
#' * `mc_ood_auroc()`: AUROC of the score for telling out-of-distribution
#'   inputs (`x_out`, the positives) from in-distribution ones (`x_in`).
#' * `mc_fpr_at_95_tpr()`: the share of in-distribution inputs flagged at the
#'   highest threshold that flags at least 95% of the out-of-distribution ones
#'   (lower is better).
#'
#' Scores, larger meaning more uncertain: `"predictive_entropy"`,
#' `"mutual_information"`, `"variation_ratio"`, `"max_probability"` (see
#' [mc_predictive_entropy()]).
#'
#' A dense output `c(n, ..., classes, samples)` counts every input and
#' position as one prediction (labels `c(n, ...)`, as [mc_calibration]);
#' Python's `mcbridge.evaluate()` and `mcbridge.metrics` detection
#' functions pool the same way (the same numbers).
#'
#' @param x,x_in,x_out An `mc_prediction` or an array of sampled class
#'   probabilities `c(n, classes, samples)`, or a dense output
#'   `c(n, ..., classes, samples)`.
#' @param y Labels of `x`: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names. For a dense output, an array with
#'   `dim = c(n, ...)`.
#' @param score Name of the uncertainty score.
#' @param ignore `NULL`, or label values to leave out, or a logical array
#'   shaped like `y` (`TRUE` = leave out); see [mc_calibration].
#' @return A single number (`NaN` for an AUROC when one group is empty).
#' @family evaluation
#' @examples
#' set.seed(1)
#' s <- array(runif(40 * 3 * 5), c(40, 3, 5))
#' s <- sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/")
#' y <- sample(0:2, 40, replace = TRUE)
#' mc_misclassification_auroc(s, y, score = "mutual_information")
#' mc_aurc(s, y)
#' mc_ood_auroc(s[1:20, , ], s[21:40, , ])
#' @name mc_detection
NULL

#' @rdname mc_detection
#' @export
mc_misclassification_auroc <- function(x, y, score = "predictive_entropy", ignore = NULL) {
  d <- .samples_labels(x, y, ignore, "x")
  .auroc(.score_of(d$x, score), .top(d$p) - 1L != d$y)
}

#' @rdname mc_detection
#' @export
mc_aurc <- function(x, y, score = "predictive_entropy", ignore = NULL) {
  mean(.risk_coverage(x, y, score, ignore)$risk)
}

#' @rdname mc_detection
#' @export
mc_augrc <- function(x, y, score = "predictive_entropy", ignore = NULL) {
  mean(.risk_coverage(x, y, score, ignore)$generalized_risk)
}

.in_out <- function(x_in, x_out, score) {
  s_in <- .score_of(.check_samples_arg(x_in, "x_in"), score)
  s_out <- .score_of(.check_samples_arg(x_out, "x_out"), score)
  list(scores = c(s_in, s_out),
       positives = c(rep(FALSE, length(s_in)), rep(TRUE, length(s_out))))
}

#' @rdname mc_detection
#' @export
mc_ood_auroc <- function(x_in, x_out, score = "predictive_entropy") {
  d <- .in_out(x_in, x_out, score)
  .auroc(d$scores, d$positives)
}

#' @rdname mc_detection
#' @export
mc_fpr_at_95_tpr <- function(x_in, x_out, score = "predictive_entropy") {
  d <- .in_out(x_in, x_out, score)
  .fpr_at_tpr(d$scores, d$positives, 0.95)
}

#' Is my uncertainty any good? All evaluation measures in one call
#'
#' The R twin of Python's `mcbridge.evaluate()`: the same names, order and
#' values (to 1e-6). A dense output `c(n, ..., classes, samples)` (e.g. a
#' segmentation) with labels `c(n, ...)` counts every input and position as
#' one prediction, as Python does; `ignore` leaves positions out.
#'
#' @param res An `mc_prediction` or an array of sampled class probabilities
#'   `c(n, classes, samples)`, or a dense output `c(n, ..., classes, samples)`.
#' @param y Labels: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names. For a dense output, an array with
#'   `dim = c(n, ...)`, the leading dims of `res`.
#' @param n_bins Bins of the calibration errors.
#' @param ignore `NULL`, or what to leave out: label values (e.g. `255`, a
#'   void label, compared with `y` as given) or a logical array shaped like
#'   `y`, `TRUE` = leave out (padding); Python's `ignore`.
#' @return A one-row data frame with columns `accuracy`, `nll`, `brier`, `ece`
#'   (equal-width bins), `adaptive_ece` (equal-mass bins), `aurc` (by
#'   predictive entropy) and `auroc_<score>` (misclassification AUROC) for
#'   each score: `predictive_entropy`, `mutual_information`,
#'   `variation_ratio`, `max_probability`. See [mc_calibration] and
#'   [mc_detection]. Labels that do not match `res` (number, dims, classes)
#'   are an `mcbridge_error_input`; a bad `ignore` an `mcbridge_error_argument`.
#' @family evaluation
#' @examples
#' set.seed(1)
#' s <- array(runif(40 * 3 * 5), c(40, 3, 5))
#' s <- sweep(s, c(1, 3), apply(s, c(1, 3), sum), "/")
#' mc_evaluate_uncertainty(s, sample(0:2, 40, replace = TRUE))
#' @export
mc_evaluate_uncertainty <- function(res, y, n_bins = 15, ignore = NULL) {
  n_bins <- .check_n_bins(n_bins)
  d <- .samples_labels(res, y, ignore, "res")
  res <- d$x
  wrong <- .top(d$p) - 1L != d$y
  out <- list(
    accuracy = mean(!wrong),
    nll = mc_negative_log_likelihood(d$p, d$y),
    brier = mc_brier_score(d$p, d$y),
    ece = mc_expected_calibration_error(d$p, d$y, n_bins = n_bins),
    adaptive_ece = mc_expected_calibration_error(d$p, d$y, n_bins = n_bins, adaptive = TRUE),
    aurc = mc_aurc(res, d$y, "predictive_entropy")
  )
  for (name in names(.mc_scores)) {
    out[[paste0("auroc_", name)]] <- .auroc(.mc_scores[[name]](res), wrong)
  }
  as.data.frame(out)
}

#' The most uncertain inputs: what to label or look at next
#'
#' With the default score (mutual information) this is BALD's top-k
#' acquisition for active learning. The R twin of Python's
#' `mcbridge.select_uncertain()`, whose indices are these minus 1.
#'
#' A dense output is refused: it ranks inputs, not positions (reduce a
#' measure over the positions yourself, e.g.
#' `order(-apply(mc_mutual_information(res), 1, mean))[1:k]`).
#'
#' @param res An `mc_prediction` or an array of sampled class probabilities
#'   `c(n, classes, samples)`.
#' @param k How many inputs (more than `n` gives all of them).
#' @param score Name of the uncertainty score: `"mutual_information"`,
#'   `"predictive_entropy"`, `"variation_ratio"` or `"max_probability"`.
#' @return An integer vector of row indices (from 1), most uncertain first;
#'   equal scores keep the order of the inputs.
#' @family evaluation
#' @examples
#' s <- array(c(0.5, 0.9, 0.5, 0.1, 0.6, 0.9, 0.4, 0.1), c(2, 2, 2))
#' mc_select_uncertain(s, 1)
#' @export
mc_select_uncertain <- function(res, k, score = "mutual_information") {
  .check_flat(res, "res", paste0(
    "mc_select_uncertain() ranks inputs, and a dense output has a score per input and position. ",
    "Reduce the score over the positions, e.g. the mean: ",
    "order(-apply(mc_mutual_information(res), 1, mean))[seq_len(k)]."))
  res <- .check_samples_arg(res, "res")
  ok <- is.numeric(k) && length(k) == 1 && !is.na(k) && is.finite(k) && k == round(k) && k >= 1
  if (!isTRUE(ok)) {
    .abort(sprintf("`k` must be a single whole number >= 1, not %s.", .describe(k)), "argument",
           arg = "k")
  }
  s <- .score_of(res, score)
  order(-s, method = "radix")[seq_len(min(k, length(s)))]
}
