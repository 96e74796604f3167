# Temperature scaling of MC samples, natively in R (the same algorithm and
# temperature as Python's mcbridge.calibration.TemperatureScaler).

.cal_what <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.atomic(x) && length(x) == 1) return(sprintf("%s (%s)", format(x), class(x)[1]))
  sprintf("an object of class '%s'", class(x)[1])
}

# Samples as a double array c(n, classes, samples), from an mc_prediction or
# a numeric array (a dense output's positions as rows, .rows()); `probs`
# checks they are probabilities summing to 1.
.cal_samples <- function(res, probs = TRUE, arg = "res", min_classes = 2,
                         hint = "for logits use `from_logits = TRUE`.") {
  res <- .rows(res)
  if (inherits(res, "mc_prediction") && !is.null(res$n_used) && any(res$n_used < dim(res$all_samples)[3])) {
    .abort(sprintf(paste0("`%s` is an adaptive result: its inputs got different numbers of samples ",
                          "(n_used, %d to %d), and this function uses every sample of every input. ",
                          "Predict these inputs with `tolerance = NULL`."),
                   arg, min(res$n_used), max(res$n_used)), "input", arg = arg)
  }
  if (!inherits(res, "mc_prediction")) {
    if (!is.numeric(res) || length(dim(res)) != 3) {
      .abort(sprintf(paste0("`%s` must be an mc_prediction or a numeric array with dim ",
                            "c(n, classes, samples), not %s."), arg, .cal_what(res)),
             "input", arg = arg)
    }
    res <- as_mc_prediction(res)
  }
  s <- res$all_samples
  if (!is.double(s)) storage.mode(s) <- "double"
  if (length(s) == 0 || dim(s)[2] < min_classes) {
    .abort(sprintf("`%s` must have at least one input and %d classes (dim c(%s)).",
                   arg, min_classes, paste(dim(s), collapse = ", ")), "input", arg = arg)
  }
  if (anyNA(s) || any(!is.finite(s))) {
    .abort(sprintf("`%s` must hold finite values.", arg), "input", arg = arg)
  }
  if (probs) {
    if (min(s) < -1e-6 || max(s) > 1 + 1e-6) {
      .abort(sprintf("`%s` must hold probabilities in [0, 1]; %s", arg, hint), "input", arg = arg)
    }
    total <- s[, 1, ]
    for (k in seq_len(dim(s)[2])[-1]) total <- total + s[, k, ]
    if (max(abs(total - 1)) > 1e-3) {
      .abort(sprintf("`%s` must hold probabilities that sum to 1 over the classes (2nd) dimension.",
                     arg), "input", arg = arg)
    }
    s[s < 0] <- 0
    s[s > 1] <- 1
  }
  s
}

# Labels as 0-based codes, matched by name to `class_names` where both have
# names (the one rule: .class_codes()).
.cal_labels <- function(y, n, k, arg = "y", class_names = NULL) {
  .class_codes(y, n, k, class_names, arg)
}

.cal_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    .abort(sprintf("`%s` must be TRUE or FALSE, not %s.", arg, .cal_what(x)), "argument", arg = arg)
  }
  x
}

.cal_logp <- function(s, from_logits) {
  if (from_logits) s else suppressWarnings(log(s))  # log(0) = -Inf: zeros stay zero
}

# softmax(logp / t) over the classes (2nd dimension).
.cal_softmax <- function(logp, t) {
  z <- logp / t
  k <- dim(z)[2]
  m <- z[, 1, ]
  for (j in seq_len(k)[-1]) m <- pmax(m, z[, j, ])
  out <- z
  total <- 0
  for (j in seq_len(k)) {
    out[, j, ] <- exp(z[, j, ] - m)
    total <- total + out[, j, ]
  }
  for (j in seq_len(k)) out[, j, ] <- out[, j, ] / total
  out
}

# NLL (nats, floor 1e-12) of the MC mean of softmax(logp / exp(log_t)).
.cal_nll <- function(logp, y, log_t) {
  d <- dim(logp)
  z <- logp / exp(log_t)
  m <- z[, 1, ]
  for (j in seq_len(d[2])[-1]) m <- pmax(m, z[, j, ])
  total <- 0
  for (j in seq_len(d[2])) total <- total + exp(z[, j, ] - m)
  lse <- log(total) + m
  true <- z[cbind(rep(seq_len(d[1]), d[3]), rep(y + 1L, d[3]), rep(seq_len(d[3]), each = d[1]))]
  p_true <- rowMeans(matrix(exp(true - lse), d[1], d[3]))
  -mean(log(pmax(p_true, 1e-12)))
}

# Grid on [lo, hi], then golden-section search around the best grid point,
# as in Python (mcbridge.calibration._minimise).
.cal_minimise <- function(f, lo, hi, n_grid, tol = 1e-10) {
  golden <- (sqrt(5) - 1) / 2
  grid <- seq(lo, hi, length.out = n_grid)
  values <- vapply(grid, f, numeric(1))
  i <- which.min(values)
  a <- grid[max(i - 1, 1)]
  b <- grid[min(i + 1, n_grid)]
  c <- b - golden * (b - a)
  d <- a + golden * (b - a)
  fc <- f(c)
  fd <- f(d)
  while (b - a > tol) {
    if (fc <= fd) {
      b <- d; d <- c; fd <- fc
      c <- b - golden * (b - a)
      fc <- f(c)
    } else {
      a <- c; c <- d; fc <- fd
      d <- a + golden * (b - a)
      fd <- f(d)
    }
  }
  (a + b) / 2
}

#' Temperature scaling of MC dropout samples
#'
#' Learns one temperature `T` on labelled held-out data: every MC sample's
#' log-probabilities (or logits) are divided by `T` before the softmax, and
#' `T` in `[0.01, 100]` minimises the negative log-likelihood of the MC mean
#' of the rescaled samples (a grid on `log(T)`, then golden-section search;
#' the same algorithm and temperature as Python's
#' `mcbridge.calibration.TemperatureScaler`, computed in R).
#'
#' Each sample is rescaled, not the MC mean: the calibrated result keeps the
#' spread of the samples, so the uncertainty measures (e.g.
#' [mc_mutual_information()]) still apply. Each sample keeps its ranking of
#' the classes; the MC mean's top class can change for inputs whose samples
#' disagree.
#'
#' A dense output `c(n, ..., classes, samples)` with labels `c(n, ...)` is
#' fitted on its positions pooled as rows (`ignore` leaves some out), as
#' Python's `TemperatureScaler` would fit the pooled array
#' `c(n * positions, classes, samples)`; [predict()] keeps the dims.
#'
#' @param res An [mc_prediction][mc_predict()] or a numeric array with
#'   `dim = c(n, classes, samples)` (or a dense output
#'   `c(n, ..., classes, samples)`): probabilities, or logits with
#'   `from_logits = TRUE`.
#' @param y Labels: class codes from 0 (class `k` is column `k + 1`, as in
#'   Python), or a factor or character vector matched by name to the class
#'   names ([mc_class_names()]); a factor's levels are taken in order only
#'   where the classes have no names. For a dense output, an array with
#'   `dim = c(n, ...)`.
#' @param from_logits Whether `res` holds logits.
#' @param ignore `NULL`, or label values to leave out, or a logical array
#'   shaped like `y` (`TRUE` = leave out); see [mc_calibration].
#' @return An `mc_temperature_scaling` object: a list with `temperature`,
#'   `from_logits`, `nll_before` and `nll_after` (NLL of the MC mean on
#'   `res`, in nats, at `T = 1` and at `temperature`). Use [predict()] on it
#'   to calibrate new samples. Labels that do not match `res` are an
#'   `mcbridge_error_input`.
#' @family calibration
#' @examples
#' set.seed(1)
#' softmax <- function(z) aperm(apply(z, c(1, 3), function(v) exp(v) / sum(exp(v))), c(2, 1, 3))
#' z <- array(rnorm(500 * 3, sd = 2), c(500, 3, 5)) + rnorm(500 * 3 * 5, sd = 0.5)
#' truth <- apply(softmax(z / 3), c(1, 2), mean)     # the labels' distribution
#' y <- apply(truth, 1, function(q) sample(0:2, 1, prob = q))
#' p <- softmax(z)                                   # samples 3 times too sharp
#' ts <- mc_temperature_scaling(p, y)
#' ts$temperature                                    # about 3
#' calibrated <- predict(ts, p)
#' mc_mutual_information(calibrated)[1:3]            # the spread is kept
#' @export
mc_temperature_scaling <- function(res, y, from_logits = FALSE, ignore = NULL) {
  from_logits <- .cal_flag(from_logits, "from_logits")
  .cal_samples(res, probs = !from_logits)   # checks `res` before the labels
  if (missing(y)) .class_codes(arg = "y")
  d <- .pool(res, y, ignore, arg = "res")
  s <- .cal_samples(d$x, probs = !from_logits)
  y <- .cal_labels(d$y, dim(s)[1], dim(s)[2], class_names = .names_of(res))
  logp <- .cal_logp(s, from_logits)
  f <- function(log_t) .cal_nll(logp, y, log_t)
  log_t <- .cal_minimise(f, log(1e-2), log(1e2), 81)
  structure(list(temperature = exp(log_t), from_logits = from_logits,
                 nll_before = f(0), nll_after = f(log_t)),
            class = "mc_temperature_scaling")
}

#' Calibrate MC samples with a fitted temperature
#'
#' @param object An `mc_temperature_scaling` from [mc_temperature_scaling()].
#' @param res An [mc_prediction][mc_predict()] or array `c(n, classes,
#'   samples)` or `c(n, ..., classes, samples)` (probabilities, or logits if
#'   the object was fitted on logits).
#' @param ... Unused.
#' @return An `mc_prediction` of calibrated probabilities, the same dim as
#'   `res` (and its class names): each sample is
#'   `softmax(log(p) / temperature)`.
#' @family calibration
#' @export
predict.mc_temperature_scaling <- function(object, res, ...) {
  d <- dim(if (inherits(res, "mc_prediction")) res$all_samples else res)
  s <- .cal_samples(res, probs = !object$from_logits)
  out <- .cal_softmax(.cal_logp(s, object$from_logits), object$temperature)
  dim(out) <- d   # a dense output's dims back
  out <- as_mc_prediction(out)
  if (!is.null(.names_of(res))) mc_class_names(out) <- .names_of(res)
  out
}

#' @export
print.mc_temperature_scaling <- function(x, ...) {
  cat(sprintf("<mc_temperature_scaling> temperature %.4g%s\n", x$temperature,
              if (x$from_logits) " (from logits)" else ""))
  cat(sprintf("NLL of the MC mean on the fitting data: %.4f -> %.4f\n",
              x$nll_before, x$nll_after))
  invisible(x)
}
