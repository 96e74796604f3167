# Regression metrics in native R (they agree with Python's
# mcbridge.metrics.regression to 1e-6). No Python is needed.

.mcreg_is_samples <- function(x) {
  inherits(x, "mc_prediction") || length(dim(x)) == 3
}

.mcreg_finite <- function(x, arg) {
  if (!is.numeric(x) || length(x) == 0) {
    .abort(sprintf("`%s` must be a non-empty numeric array, not %s.", arg, .mcreg_describe(x)),
           "input", arg = arg)
  }
  if (any(!is.finite(x))) {
    .abort(sprintf("`%s` must not contain NA, NaN or infinite values.", arg), "input", arg = arg)
  }
  storage.mode(x) <- "double"
  x
}

.mcreg_describe <- function(x) {
  if (is.null(x)) return("NULL")
  sprintf("an object of class '%s'", class(x)[1])
}

# Samples c(n, outputs, samples) from an mc_prediction or a 3-d numeric array.
.mcreg_samples <- function(x, arg = "x") {
  if (inherits(x, "mc_prediction")) x <- x$all_samples
  if (length(dim(x)) != 3) {
    .abort(sprintf(paste0("`%s` must be an mc_prediction or a numeric array with ",
                          "dim c(n, outputs, samples), not %s."), arg, .mcreg_describe(x)),
           "input", arg = arg)
  }
  .mcreg_finite(x, arg)
}

# A c(n, outputs) matrix from a matrix or (one output) a vector.
.mcreg_matrix <- function(x, arg) {
  x <- .mcreg_finite(x, arg)
  d <- dim(x)
  if (is.null(d)) return(matrix(x, ncol = 1))
  if (length(d) != 2) {
    .abort(sprintf("`%s` must be a vector or a matrix c(n, outputs), not an array with %d dimensions.",
                   arg, length(d)), "input", arg = arg)
  }
  x
}

.mcreg_targets <- function(y, n, outputs) {
  y <- .mcreg_matrix(y, "y")
  if (!identical(as.integer(dim(y)), as.integer(c(n, outputs)))) {
    .abort(sprintf("`y` must have dim c(%d, %d)%s, not c(%s).", n, outputs,
                   if (outputs == 1) sprintf(" (or be a vector of length %d)", n) else "",
                   paste(dim(y), collapse = ", ")), "input", arg = "y")
  }
  y
}

.mcreg_mean <- function(x, arg) {
  if (.mcreg_is_samples(x)) return(rowMeans(.mcreg_samples(x, arg), dims = 2))
  .mcreg_matrix(x, arg)
}

.mcreg_sorted <- function(s) {
  d <- dim(s)
  if (d[3] == 1) return(array(s, c(1, d[1], d[2])))
  apply(s, c(1, 2), sort)  # c(samples, n, outputs)
}

#' Regression metrics of MC predictions
#'
#' Computed in R on an [mc_prediction][mc_predict()] or any numeric array of
#' real-valued samples with `dim = c(n, outputs, samples)` (or, for
#' `mc_gaussian_nll()` and `mc_rmse()`, on predictive means and variances).
#' Targets `y` are a matrix `c(n, outputs)` or, for one output, a vector of
#' length `n`. Each returns the mean over items and outputs, and agrees with
#' Python's `mcbridge.metrics` to 1e-6.
#'
#' * `mc_gaussian_nll()`: negative log-likelihood (nats) of `y` under
#'   `Normal(mean, var)`, `0.5 * (log(2 * pi * v) + (y - mean)^2 / v)` with
#'   `v = max(var, var_floor)`. Given samples, it uses their mean and variance
#'   (`var()`'s `n - 1` denominator).
#' * `mc_crps()`: continuous ranked probability score of the samples'
#'   empirical distribution, `E|X - y| - E|X - Z| / 2` with `X`, `Z`
#'   independent draws from the samples (all `S^2` pairs), computed by
#'   sorting (`O(S log S)`).
#' * `mc_rmse()`: root mean squared error of the predictive mean.
#' * `mc_interval_coverage()`: fraction of targets inside the central `level`
#'   interval between the `(1 - level) / 2` and `(1 + level) / 2` sample
#'   quantiles (`quantile(type = 7)`); ends count as inside.
#'
#' @param mean Predictive means (a matrix `c(n, outputs)` or a vector), or
#'   samples (an `mc_prediction` or an array `c(n, outputs, samples)`).
#' @param var Predictive variances, the same shape as `mean`; when `mean`
#'   holds samples and `y` is missing, the targets.
#' @param y Targets: a matrix `c(n, outputs)` or a vector of length `n`.
#' @param var_floor Variances below this are raised to it (units of `y`
#'   squared), so a zero variance gives a large but finite NLL.
#' @param x Samples: an `mc_prediction` or an array `c(n, outputs, samples)`.
#' @param level Nominal coverage of the interval, in (0, 1).
#' @return A single number.
#' @examples
#' s <- array(c(1, 2, 3, 2, 4, 6), c(2, 1, 3))
#' y <- c(2.5, 3)
#' mc_crps(s, y)
#' mc_rmse(s, y)
#' mc_gaussian_nll(s, y = y)
#' mc_interval_coverage(s, y, level = 0.5)
#' @name mc_regression_metrics
NULL

#' @rdname mc_regression_metrics
#' @export
mc_gaussian_nll <- function(mean, var = NULL, y = NULL, var_floor = 1e-6) {
  if (!is.numeric(var_floor) || length(var_floor) != 1 || !is.finite(var_floor) || var_floor <= 0) {
    .abort("`var_floor` must be a single positive number.", "argument", arg = "var_floor")
  }
  if (.mcreg_is_samples(mean)) {
    s <- .mcreg_samples(mean, "mean")
    if (is.null(y)) y <- var
    m <- dim(s)[3]
    if (m < 2) .abort("A variance needs at least 2 samples; `mean` has 1.", "input", arg = "mean")
    mu <- rowMeans(s, dims = 2)
    v <- rowSums((s - as.vector(mu))^2, dims = 2) / (m - 1)
  } else {
    if (is.null(var) || is.null(y)) .abort("`mean`, `var` and `y` are all needed.", "argument")
    mu <- .mcreg_matrix(mean, "mean")
    v <- .mcreg_matrix(var, "var")
    if (!identical(dim(mu), dim(v))) {
      .abort("`mean` and `var` must have the same shape.", "input", arg = "var")
    }
    if (min(v) < 0) .abort("`var` must hold variances >= 0.", "input", arg = "var")
  }
  if (is.null(y)) .abort("`y` is missing.", "argument", arg = "y")
  y <- .mcreg_targets(y, nrow(mu), ncol(mu))
  v <- pmax(v, var_floor)
  mean(0.5 * (log(2 * pi * v) + (y - mu)^2 / v))
}

#' @rdname mc_regression_metrics
#' @export
mc_crps <- function(x, y) {
  s <- .mcreg_samples(x)
  d <- dim(s)
  y <- .mcreg_targets(y, d[1], d[2])
  m <- d[3]
  first <- rowMeans(abs(s - as.vector(y)), dims = 2)
  w <- 2 * seq_len(m) - m - 1
  spread <- colSums(.mcreg_sorted(s) * w) / m^2
  mean(first - spread)
}

#' @rdname mc_regression_metrics
#' @export
mc_rmse <- function(mean, y) {
  mu <- .mcreg_mean(mean, "mean")
  y <- .mcreg_targets(y, nrow(mu), ncol(mu))
  sqrt(mean((mu - y)^2))
}

#' @rdname mc_regression_metrics
#' @export
mc_interval_coverage <- function(x, y, level = 0.9) {
  if (!is.numeric(level) || length(level) != 1 || !is.finite(level) || level <= 0 || level >= 1) {
    .abort(sprintf("`level` must be a single number in (0, 1), not %s.",
                   if (is.numeric(level) && length(level) == 1) format(level) else .mcreg_describe(level)),
           "argument", arg = "level")
  }
  s <- .mcreg_samples(x)
  d <- dim(s)
  y <- .mcreg_targets(y, d[1], d[2])
  sorted <- .mcreg_sorted(s)
  m <- d[3]
  quant <- function(p) {  # type 7, for every (item, output) at once
    h <- (m - 1) * p + 1
    lo <- floor(h)
    hi <- min(lo + 1, m)
    sorted[lo, , ] + (h - lo) * (sorted[hi, , ] - sorted[lo, , ])
  }
  lower <- quant((1 - level) / 2)
  upper <- quant((1 + level) / 2)
  mean(lower <= y & y <= upper)
}
