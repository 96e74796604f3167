# Split conformal prediction sets and intervals on MC samples, natively in R
# (the same scores, thresholds and sets as Python's mcbridge.conformal).

.cp_hint <- "if these are logits, apply a softmax over the classes (2nd dimension) first."

# Mean over the samples, added in sample order (as Python's conformal module).
.cp_mean <- function(s) {
  total <- s[, , 1]
  for (j in seq_len(dim(s)[3])[-1]) total <- total + s[, , j]
  matrix(total / dim(s)[3], dim(s)[1], dim(s)[2])
}

# 32-bit unsigned integer steps done exactly in doubles (values in [0, 2^32)).
.u32_xor <- function(a, b) {
  bitwXor(as.integer(a %/% 65536), as.integer(b %/% 65536)) * 65536 +
    bitwXor(as.integer(a %% 65536), as.integer(b %% 65536))
}
# (a * b) mod 2^32 for a constant b: each partial product stays below 2^49.
.u32_mul <- function(a, b) {
  (a * (b %% 65536) + ((a * (b %/% 65536)) %% 65536) * 65536) %% 4294967296
}
# MurmurHash3's 32-bit finaliser.
.fmix32 <- function(h) {
  h <- .u32_xor(h, h %/% 65536)
  h <- .u32_mul(h, 2246822507)  # 0x85EBCA6B
  h <- .u32_xor(h, h %/% 8192)
  h <- .u32_mul(h, 3266489909)  # 0xC2B2AE35
  .u32_xor(h, h %/% 65536)
}
# The randomised score's uniforms: the same bits as Python's
# mcbridge.conformal.uniforms(seed, stream, n) (see there). Seeds below 2^53.
.cp_uniforms <- function(seed, stream, n) {
  golden <- 2654435769  # 0x9E3779B9
  lo <- seed %% 4294967296
  hi <- (seed %/% 4294967296) %% 4294967296
  key <- .fmix32(.u32_xor(.fmix32(.u32_xor(.fmix32(.u32_xor(lo, golden)), hi)), stream))
  x <- (key + .u32_mul(seq_len(n), golden)) %% 4294967296
  (.fmix32(.u32_xor(.fmix32(x), key)) + 0.5) / 4294967296
}

# Score of every class, n x classes, from probabilities p (n x classes); `u`
# (length n, or 1) weights the class's own probability (1: deterministic).
.cp_scores <- function(p, method, lam, k_reg, u = 1) {
  if (method == "lac") return(1 - p)
  n <- nrow(p)
  k <- ncol(p)
  # Classes by decreasing probability, ties: lower class first (as NumPy's
  # stable argsort of -p).
  idx <- order(row(p), -p, col(p))
  sp <- matrix(p[idx], n, k, byrow = TRUE)
  cs <- sp
  for (j in seq_len(k)[-1]) cs[, j] <- cs[, j - 1] + sp[, j]
  sorted_scores <- (cs - sp) + u * sp
  if (method == "raps") {
    rank <- matrix(rep(seq_len(k), each = n), n, k)
    sorted_scores <- sorted_scores + lam * pmax(rank - k_reg, 0)
  }
  out <- p
  out[idx] <- as.vector(t(sorted_scores))
  out
}

# With include_top (APS/RAPS), the top class of each input's MC mean (ties:
# the lower class, as NumPy's argmax) scores 0: it is in every set. (Objects
# saved before include_top existed have no such field: scores as before.)
.cp_class_scores <- function(object, s, stream = 0) {
  m <- .cp_mean(s)
  u <- if (isTRUE(object$randomized)) .cp_uniforms(object$seed, stream, dim(s)[1]) else 1
  if (object$mc_score == "mean" || object$method == "lac") {
    scores <- .cp_scores(m, object$method, object$lam, object$k_reg, u)
  } else {
    scores <- 0
    for (j in seq_len(dim(s)[3])) {
      p <- matrix(s[, , j], dim(s)[1], dim(s)[2])
      scores <- scores + .cp_scores(p, object$method, object$lam, object$k_reg, u)
    }
    scores <- scores / dim(s)[3]
  }
  if (isTRUE(object$include_top) && object$method != "lac") {
    scores[cbind(seq_len(nrow(m)), max.col(m, ties.method = "first"))] <- 0
  }
  scores
}

# The ceiling((n + 1) (1 - alpha))-th smallest score, Inf beyond n.
.cp_quantile <- function(scores, alpha) {
  rank <- ceiling((length(scores) + 1) * (1 - alpha) - 1e-9)
  if (rank > length(scores)) Inf else sort(scores)[rank]
}

.cp_number <- function(x, arg, lower = 0, upper = Inf, open = FALSE, whole = FALSE) {
  ok <- is.numeric(x) && length(x) == 1 && !is.na(x) && is.finite(x) &&
    (if (open) x > lower && x < upper else x >= lower && x <= upper) &&
    (!whole || x == round(x))
  if (!isTRUE(ok)) {
    range <- if (open) sprintf("in (%s, %s)", lower, upper) else sprintf(">= %s", lower)
    .abort(sprintf("`%s` must be a single %s %s, not %s.", arg,
                   if (whole) "whole number" else "number", range, .cal_what(x)),
           "argument", arg = arg)
  }
  x
}

.cp_choice <- function(x, choices, arg) {
  if (!is.character(x) || length(x) != 1 || !(x %in% choices)) {
    .abort(sprintf("`%s` must be one of %s, not %s.", arg,
                   paste0('"', choices, '"', collapse = ", "), .cal_what(x)), "argument", arg = arg)
  }
  x
}

#' Conformal prediction sets from MC dropout samples
#'
#' Split conformal prediction: the threshold is fitted on labelled
#' calibration inputs, and [predict()] returns, for new inputs, sets of
#' classes that contain the true class with probability at least
#' `1 - alpha` (calibration and new inputs exchangeable). The same scores,
#' threshold and sets as Python's `mcbridge.conformal.ConformalClassifier`
#' (the same defaults and options), computed in R.
#'
#' Scores, with the class probabilities sorted in decreasing order (ties:
#' lower class first):
#' * `"lac"`: `1 - p[y]`; the smallest sets on average.
#' * `"aps"`: the probability of the classes ranked above `y` plus `p[y]`;
#'   larger sets for uncertain inputs.
#' * `"raps"`: APS plus `lam * max(0, rank(y) - k_reg)`.
#'
#' With `include_top = TRUE` (the default; APS and RAPS), the top class of
#' each input's MC mean scores 0, in calibration and prediction: every set
#' holds it (no set is empty; a confident input's set holds its top class),
#' and the threshold is calibrated knowing that, so coverage stays close to
#' `1 - alpha`. `include_top = FALSE` gives plain APS/RAPS, whose sets are
#' empty for confident inputs whose top probability exceeds the threshold
#' (5-10% of the sets on Fashion-MNIST). The default was chosen on
#' measurements (`docs/CALIBRATION.md`, `benchmarks/conformal_aps_variants.py`).
#' By default the scores are deterministic (they count all of `p[y]`).
#' `randomized = TRUE` counts a uniform fraction `U * p[y]` instead (Romano
#' et al. 2020; one `U` per input, drawn from `seed` with the same generator
#' as Python, so the same seed gives the same sets in both languages): sets
#' slightly smaller, but dependent on the draw. The threshold is the
#' `ceiling((n + 1) * (1 - alpha))`-th smallest
#' calibration score (`Inf`, all classes, when that exceeds `n`). LAC sets
#' may be empty (no class above `1 - qhat`); `include_top` does not apply to
#' LAC.
#'
#' `mc_score = "mean"` scores the MC mean probabilities; `"average"` averages
#' each sample's own score over the samples (the same for LAC).
#'
#' A dense output `c(n, ..., classes, samples)` with labels `c(n, ...)` is
#' calibrated on its positions pooled as rows (`ignore` leaves some out; the
#' same threshold as Python's `ConformalClassifier` fitted on the pooled
#' array `c(n * positions, classes, samples)`, rows in R's array order), and
#' [predict()] gives a set per input and position. Positions of one input
#' are not exchangeable with each other, so the `1 - alpha` coverage then
#' holds over positions only approximately: calibrate on whole held-out
#' inputs.
#'
#' @param res An [mc_prediction][mc_predict()] or a numeric array of class
#'   probabilities with `dim = c(n, classes, samples)` (or a dense output
#'   `c(n, ..., classes, samples)`), for calibration inputs (not the
#'   training data).
#' @param y Labels: class codes from 0, or a factor or class names matched by
#'   name to the classes' names ([mc_class_names()]) when `res` has them. For
#'   a dense output, an array with `dim = c(n, ...)`.
#' @param ignore `NULL`, or label values to leave out, or a logical array
#'   shaped like `y` (`TRUE` = leave out); see [mc_calibration].
#' @param alpha Target miscoverage, in (0, 1).
#' @param method `"aps"`, `"lac"` or `"raps"`.
#' @param lam,k_reg RAPS penalty per class beyond the first `k_reg` classes.
#' @param mc_score `"mean"` or `"average"`.
#' @param include_top `TRUE` or `FALSE`: APS/RAPS score the top class 0, so
#'   it is in every set.
#' @param randomized `TRUE` or `FALSE`: the randomised APS/RAPS score.
#' @param seed With `randomized = TRUE`: a whole number in `[0, 2^53)` (as
#'   Python's `seed`), or `NULL` to draw one from R's random numbers (so
#'   [set.seed()] makes it reproducible). Calibration uses stream 0 and
#'   [predict()] stream 1 of it (one uniform per row: per input and position
#'   of a dense output, in R's array order).
#' @return An `mc_conformal` object (a list with `qhat`, the fitted
#'   threshold, and the settings); [predict()] on it gives the sets. Labels
#'   that do not match `res` are an `mcbridge_error_input`.
#' @family calibration
#' @examples
#' set.seed(1)
#' p <- array(runif(300 * 4 * 5), c(300, 4, 5))
#' p <- aperm(apply(p, c(1, 3), function(v) v / sum(v)), c(2, 1, 3))
#' y <- sample(0:3, 300, replace = TRUE)
#' cp <- mc_conformal(p[1:200, , ], y[1:200], alpha = 0.1, method = "lac")
#' sets <- predict(cp, p[201:300, , ])
#' mean(sets[cbind(1:100, y[201:300] + 1)])   # coverage
#' mean(rowSums(sets))                        # mean set size
#' @export
mc_conformal <- function(res, y, alpha = 0.1, method = "aps", lam = 0.01, k_reg = 1,
                         mc_score = "mean", include_top = TRUE, randomized = FALSE,
                         seed = NULL, ignore = NULL) {
  method <- .cp_choice(method, c("lac", "aps", "raps"), "method")
  mc_score <- .cp_choice(mc_score, c("mean", "average"), "mc_score")
  alpha <- .cp_number(alpha, "alpha", 0, 1, open = TRUE)
  lam <- .cp_number(lam, "lam")
  k_reg <- .cp_number(k_reg, "k_reg", whole = TRUE)
  for (arg in c("include_top", "randomized")) {
    v <- get(arg)
    if (!is.logical(v) || length(v) != 1 || is.na(v)) {
      .abort(sprintf("`%s` must be TRUE or FALSE, not %s.", arg, .cal_what(v)), "argument",
             arg = arg)
    }
  }
  randomized <- randomized && method != "lac"
  if (randomized) {
    seed <- if (is.null(seed)) floor(stats::runif(1) * 2^31) else
      .cp_number(seed, "seed", upper = 2^53 - 1, whole = TRUE)
  } else {
    seed <- NULL
  }
  .cal_samples(res, min_classes = 1, hint = .cp_hint)   # checks `res` before the labels
  if (missing(y)) .class_codes(arg = "y")
  d <- .pool(res, y, ignore, arg = "res")
  s <- .cal_samples(d$x, min_classes = 1, hint = .cp_hint)
  y <- .cal_labels(d$y, dim(s)[1], dim(s)[2], class_names = .names_of(res))
  object <- structure(list(method = method, alpha = alpha, lam = lam, k_reg = k_reg,
                           mc_score = mc_score, include_top = include_top && method != "lac",
                           randomized = randomized, seed = seed, n_classes = dim(s)[2]),
                      class = "mc_conformal")
  scores <- .cp_class_scores(object, s)
  object$qhat <- .cp_quantile(scores[cbind(seq_along(y), y + 1L)], alpha)
  object$n_calibration <- length(y)
  object$dense <- .is_dense(res)
  object
}

#' Prediction sets of new inputs
#'
#' @param object An `mc_conformal` from [mc_conformal()].
#' @param res An [mc_prediction][mc_predict()] or array `c(n, classes,
#'   samples)` of class probabilities, or a dense output
#'   `c(n, ..., classes, samples)`.
#' @param ... Unused.
#' @return A logical matrix `n x classes`: `[i, k]` is whether class `k - 1`
#'   is in the set of input `i`. Coverage on labelled data:
#'   `mean(sets[cbind(seq_along(y), y + 1)])`; set sizes: `rowSums(sets)`.
#'   For a dense output, a logical array `c(n, ..., classes)` (set sizes:
#'   `rowSums(sets, dims = length(dim(sets)) - 1)`).
#' @family calibration
#' @export
predict.mc_conformal <- function(object, res, ...) {
  lead <- .lead_dims(res)
  s <- .cal_samples(res, min_classes = 1, hint = .cp_hint)
  if (dim(s)[2] != object$n_classes) {
    .abort(sprintf("`res` has %d classes but the conformal object was fitted on %d.",
                   dim(s)[2], object$n_classes), "input", arg = "res")
  }
  sets <- .cp_class_scores(object, s, stream = 1) <= object$qhat
  if (!is.null(lead)) dim(sets) <- c(lead, dim(s)[2])
  sets
}

#' @export
print.mc_conformal <- function(x, ...) {
  cat(sprintf("<mc_conformal> %s sets, alpha %g, mc_score \"%s\"%s\n", toupper(x$method),
              x$alpha, x$mc_score, if (isTRUE(x$include_top)) ", top class in every set" else ""))
  cat(sprintf("threshold %.6g from %d calibration %s\n", x$qhat, x$n_calibration,
              if (isTRUE(x$dense)) "positions (a dense output's, pooled)" else "inputs"))
  invisible(x)
}

#' Conformal intervals scaled by the MC standard deviation
#'
#' Split conformal regression intervals: the score of a calibration input is
#' `|y - mean| / (sd + eps)`, with the mean and standard deviation (`n - 1`
#' denominator) over the MC samples, and the interval of a new input is
#' `mean -/+ qhat * (sd + eps)`: wide where the samples disagree. Marginal
#' coverage is at least `1 - alpha` for each output. The same as Python's
#' `mcbridge.conformal.ConformalRegressor`.
#'
#' A dense output `c(n, ..., outputs, samples)` is calibrated on its
#' positions pooled as rows (one threshold per output, as Python's
#' `ConformalRegressor` fitted on the pooled array); positions of one input
#' are not exchangeable, so coverage over positions is then approximate.
#'
#' @param res An [mc_prediction][mc_predict()] or a numeric array
#'   `c(n, outputs, samples)` of regression outputs (at least 2 samples), or
#'   a dense output `c(n, ..., outputs, samples)`.
#' @param y Numeric targets: a vector (one output) or a matrix `n x outputs`;
#'   for a dense output an array `c(n, ..., outputs)` (or `c(n, ...)` for one
#'   output).
#' @param alpha Target miscoverage, in (0, 1).
#' @param eps Non-negative number added to the standard deviation (keeps the
#'   score finite when the samples do not vary).
#' @return An `mc_conformal_interval` object (a list with `qhat`, one
#'   threshold per output); [predict()] on it gives the intervals.
#' @family calibration
#' @examples
#' set.seed(1)
#' sd <- runif(400, 0.1, 2)
#' mu <- rnorm(400)
#' s <- array(mu + sd * rnorm(400 * 20), c(400, 1, 20))
#' y <- mu + sd * rnorm(400)
#' ci <- mc_conformal_interval(s[1:200, , , drop = FALSE], y[1:200])
#' head(predict(ci, s[201:400, , , drop = FALSE]))
#' @export
mc_conformal_interval <- function(res, y, alpha = 0.1, eps = 1e-6) {
  alpha <- .cp_number(alpha, "alpha", 0, 1, open = TRUE)
  eps <- .cp_number(eps, "eps")
  ms <- .cp_mean_sd(res, eps)
  lead <- .lead_dims(res)
  if (!is.null(lead)) y <- .dense_targets(y, lead, ncol(ms$mean))   # positions as rows
  if (is.data.frame(y)) y <- as.matrix(y)
  if (!is.numeric(y)) {
    .abort(sprintf("`y` must be numeric targets, not %s.", .cal_what(y)), "input", arg = "y")
  }
  y <- matrix(y, nrow = if (is.null(dim(y))) length(y) else nrow(y))
  if (!identical(dim(y), dim(ms$mean)) || anyNA(y) || any(!is.finite(y))) {
    .abort(sprintf("`y` must hold finite targets, a vector of length %d or a matrix %d x %d.",
                   nrow(ms$mean), nrow(ms$mean), ncol(ms$mean)), "input", arg = "y")
  }
  if (any(ms$scale <= 0)) {
    .abort("`eps` must be positive: some inputs have an MC standard deviation of 0.", "argument",
           arg = "eps")
  }
  scores <- abs(y - ms$mean) / ms$scale
  qhat <- vapply(seq_len(ncol(scores)), function(j) .cp_quantile(scores[, j], alpha), numeric(1))
  structure(list(alpha = alpha, eps = eps, qhat = qhat, n_calibration = nrow(y)),
            class = "mc_conformal_interval")
}

.cp_mean_sd <- function(res, eps, arg = "res") {
  s <- .cal_samples(res, probs = FALSE, arg = arg, min_classes = 1)
  if (dim(s)[3] < 2) {
    .abort(sprintf("`%s` must have at least 2 MC samples (for a standard deviation).", arg), "input",
           arg = arg)
  }
  p <- as_mc_prediction(s)
  m <- matrix(p$mean, dim(s)[1], dim(s)[2])
  list(mean = m, scale = matrix(sqrt(p$variance), dim(s)[1], dim(s)[2]) + eps)
}

#' Conformal intervals of new inputs
#'
#' @param object An `mc_conformal_interval` from [mc_conformal_interval()].
#' @param res An [mc_prediction][mc_predict()] or array `c(n, outputs,
#'   samples)`, or a dense output `c(n, ..., outputs, samples)`.
#' @param ... Unused.
#' @return A data frame with one row per input and columns `.pred` (the MC
#'   mean), `.pred_lower` and `.pred_upper`, as `probably`'s
#'   `int_conformal_*()`; with several outputs, these three columns per output,
#'   suffixed `_1`, `_2`, ... For a dense output, one row per input and
#'   position, input by input, with the index columns `.row`, `.dim_1`, ...
#'   in front (as [mc_tidy()]).
#' @family calibration
#' @export
predict.mc_conformal_interval <- function(object, res, ...) {
  ms <- .cp_mean_sd(res, object$eps)
  if (ncol(ms$mean) != length(object$qhat)) {
    .abort(sprintf("`res` has %d outputs but the object was fitted on %d.",
                   ncol(ms$mean), length(object$qhat)), "input", arg = "res")
  }
  half <- sweep(ms$scale, 2, object$qhat, `*`)
  cols <- list()
  for (j in seq_len(ncol(ms$mean))) {
    sfx <- if (ncol(ms$mean) == 1) "" else paste0("_", j)
    cols[[paste0(".pred", sfx)]] <- ms$mean[, j]
    cols[[paste0(".pred_lower", sfx)]] <- ms$mean[, j] - half[, j]
    cols[[paste0(".pred_upper", sfx)]] <- ms$mean[, j] + half[, j]
  }
  out <- as.data.frame(cols, optional = TRUE)
  lead <- .lead_dims(res)
  if (!is.null(lead)) out <- .dense_table(out, lead)
  out
}

#' @export
print.mc_conformal_interval <- function(x, ...) {
  cat(sprintf("<mc_conformal_interval> alpha %g, %d calibration inputs\n", x$alpha,
              x$n_calibration))
  cat("threshold (in MC standard deviations):", format(x$qhat, digits = 4), "\n")
  invisible(x)
}
