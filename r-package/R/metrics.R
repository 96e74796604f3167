# Uncertainty measures in native R (they agree with Python's mcbridge.metrics).

.as_samples <- function(x, arg = "x") {
  if (inherits(x, "mc_prediction")) x <- x$all_samples
  d <- dim(x)
  if (!is.numeric(x) || length(d) != 3) {
    stop(sprintf(paste0("`%s` must be an mc_prediction or a numeric array with ",
                        "dim c(n, classes, samples), not %s."), arg, .describe(x)),
         call. = FALSE)
  }
  if (length(x) == 0) stop(sprintf("`%s` is empty.", arg), call. = FALSE)
  x
}

.check_probs <- function(p) {
  if (anyNA(p) || any(!is.finite(p)) || min(p) < -1e-6 || max(p) > 1 + 1e-6) {
    stop(paste0("`x` must hold probabilities in [0, 1]; if these are logits, ",
                "apply a softmax over the classes (2nd) dimension first."), call. = FALSE)
  }
  sums <- Reduce(`+`, lapply(seq_len(dim(p)[2]), function(j) p[, j, ]))
  if (max(abs(sums - 1)) > 1e-3) {
    stop("`x` must hold probabilities that sum to 1 over the classes (2nd) dimension.",
         call. = FALSE)
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
#' `0 * log(0) = 0`. They agree with Python's `mcbridge.metrics` to 1e-6.
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
#' @param x An `mc_prediction` or a numeric array `c(n, classes, samples)`.
#' @return A numeric vector of length `n`.
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
  .pe(.check_probs(.as_samples(x)))
}

#' @rdname mc_uncertainty
#' @export
mc_expected_entropy <- function(x) {
  .ee(.check_probs(.as_samples(x)))
}

#' @rdname mc_uncertainty
#' @export
mc_mutual_information <- function(x) {
  p <- .check_probs(.as_samples(x))
  pmax(.pe(p) - .ee(p), 0)
}

#' @rdname mc_uncertainty
#' @export
mc_variation_ratio <- function(x) {
  p <- .check_probs(.as_samples(x))
  d <- dim(p)
  n <- d[1]; k <- d[2]; s <- d[3]
  # Top class of every (input, sample): rows of the (n * s) x k matrix.
  top <- max.col(matrix(aperm(p, c(1, 3, 2)), n * s, k), ties.method = "first")
  item <- rep(seq_len(n), times = s)
  counts <- matrix(tabulate(item + (top - 1L) * n, n * k), n, k)
  1 - counts[cbind(seq_len(n), max.col(counts, ties.method = "first"))] / s
}
