# Monte Carlo prediction: one call into Python per user call.

#' Monte Carlo dropout prediction
#'
#' Runs `n_samples` stochastic forward passes of each input with dropout on
#' (and BatchNormalization in inference mode), in batches of at most
#' `batch_size` inputs, on the Python engine (`mcbridge.mc_predict()`, whose
#' arguments these are, with the same names and defaults).
#'
#' The arguments are checked in R first. Then R calls Python once: the input
#' goes over through the Arrow C data interface (R narrows its doubles to
#' float32 in one pass, the one copy, which R's doubles make necessary; Python
#' reads that buffer in place, in R's column-major order) and the samples come
#' back the same way (R reads Python's buffer in place and widens it to
#' doubles in one pass). The model is left as it was, also when the call is
#' interrupted.
#'
#' With a `seed`, input `i`'s samples depend only on the seed and `i` (not on
#' `batch_size`, `memory_budget` or the other inputs: the same masks, values
#' equal up to float32 rounding), and they are bit-identical to Python's for
#' the same arguments: `all_samples[i, k, s]` is Python's
#' `samples[i - 1, k - 1, s - 1]`.
#'
#' For an `mc_ensemble` of `k` members the samples are member-major:
#' `all_samples[, , (j - 1) * n_samples + s]` is sample `s` of member `j`,
#' `k * n_samples` in all, bit-identical to Python's
#' `mcbridge.mc_predict(ensemble, x, ...)`.
#'
#' With `tolerance`, sampling is adaptive (as in Python): inputs are sampled in
#' rounds of `min_samples`, and an input stops once the MC standard error of
#' its mean probabilities (`sd / sqrt(count)`, the largest over its entries)
#' is at most `tolerance`, or at `n_samples`. The result's `n_used` says how
#' many samples each input got; `all_samples[i, , ]` holds them first and NaN
#' after, and every R measure uses exactly each input's own samples. With a
#' seed they are the first `n_used[i]` samples of a fixed-size run. With
#' `class_margin` instead, an input stops once its predicted class is settled:
#' its two most probable classes are more than `class_margin` times the sum
#' of their MC standard errors apart (at every position of a dense output).
#'
#' @param model A Keras model (from [mc_cnn()], [mc_load_model()], keras3 or
#'   `reticulate::import("keras")`) whose outputs are `(batch, *dims,
#'   classes)`; or an `mc_ensemble` (from [mc_train_ensemble()] or
#'   [mc_load_ensemble()]).
#' @param x Inputs: an array `c(n, height, width, channels)`, or
#'   `c(n, height, width)` for one channel, or a matrix `c(n, features)`;
#'   finite numbers only. For a model with several inputs, a list of such
#'   arrays with the same `n`: named by the model's input names, or unnamed
#'   in the model's input order.
#' @param n_samples Number of stochastic passes per input (with `tolerance`:
#'   the most any input gets). For an `mc_ensemble` the default is 1 (as in
#'   Python): one deterministic prediction per member (dropout off,
#'   `progress` not shown); `n_samples > 1` samples MC dropout inside each
#'   member.
#' @param batch_size At most this many inputs per compiled call.
#' @param seed `NULL` (fresh randomness on every call), or a non-negative
#'   whole number: each input's masks then come from a random stream keyed by
#'   the seed and the input's row.
#' @param from_logits `TRUE` if the model outputs logits: a softmax is applied
#'   to each sample. One value, or one per model output.
#' @param memory_budget Bytes of activations one compiled call may use
#'   (default 256 MiB, as in Python).
#' @param task `"classification"` (outputs are class probabilities) or
#'   `"regression"` (real-valued outputs; the result's `mean`, `variance` and
#'   `all_samples` are then per output). One value, or one per model output.
#' @param heteroscedastic With `task = "regression"`: the model's output
#'   `(batch, 2 * d)` holds `d` means then `d` log-variances; the samples are
#'   the means and the result gains `noise_variance` (`dim = c(n, d,
#'   samples)`, the predicted noise variance of each sample). One value, or
#'   one per model output.
#' @param precision `"float32"`, or `"bfloat16"` to compute the convolutions and
#'   dense layers after the first dropout in bfloat16 on CPUs with bfloat16
#'   instructions (about 1.5-1.6x faster there; samples still come back as
#'   float32; elsewhere a warning and float32).
#' @param tolerance `NULL` (every input gets `n_samples`), or a number > 0:
#'   adaptive sampling (see Details).
#' @param min_samples With `tolerance` or `class_margin`: the samples every
#'   input gets, and the round size (2 to `n_samples`).
#' @param class_margin `NULL`, or a number > 0 (2 is a good start): adaptive
#'   sampling that stops each input once its class is settled (see Details);
#'   instead of `tolerance`, for classification outputs.
#' @param progress Show a progress bar while Python works (default: in
#'   interactive sessions): cli's if installed, else [utils::txtProgressBar()];
#'   updated at most 5 times a second. Ctrl-C stops the prediction cleanly.
#' @return An `mc_prediction`: a list with `mean` (`n x classes`), `variance`
#'   (`n x classes`, as [stats::var()] over the samples) and `all_samples`
#'   (`dim = c(n, classes, samples)`), plus `noise_variance` for a
#'   heteroscedastic model and `n_used` (an integer vector, one count per
#'   input) with `tolerance`; `mc_task()` tells its task. A dense output
#'   `(batch, H, W, classes)` gives `all_samples` with `dim = c(n, H, W,
#'   classes, samples)`, `mean` and `variance` with `dim = c(n, H, W,
#'   classes)`, and measures per position (`dim = c(n, H, W)`). A model with
#'   several outputs gives a list of `mc_prediction`s named by output.
#' @family prediction
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' res <- mc_predict(model, d$test$x[1:5, , ] / 16, n_samples = 10, seed = 1)
#' res
#' ada <- mc_predict(model, d$test$x[1:5, , ] / 16, n_samples = 100, seed = 1,
#'                   tolerance = 0.02)
#' ada$n_used
#' mc_standard_error(ada)
#' @export
mc_predict <- function(model, x, n_samples = 50, batch_size = 128, seed = NULL,
                       from_logits = FALSE, memory_budget = 256 * 2^20,
                       task = "classification", heteroscedastic = FALSE,
                       precision = "float32", tolerance = NULL, min_samples = 10,
                       class_margin = NULL, progress = interactive()) {
  ensemble <- inherits(model, "mc_ensemble")
  if (ensemble) {
    .check_ensemble(model, "model")
    if (missing(n_samples)) n_samples <- 1L    # Python's default for an Ensemble
  } else {
    .check_model(model)
  }
  n_samples <- .check_count(n_samples, "n_samples")
  batch_size <- .check_count(batch_size, "batch_size")
  seed <- .check_seed(seed)
  memory_budget <- .check_bytes(memory_budget, "memory_budget")
  precision <- .check_string(precision, "precision", c("float32", "bfloat16"))
  progress <- .check_flag(progress, "progress")
  task <- .per_output(task, "task", function(v, a) .check_string(v, a, c("classification", "regression")))
  from_logits <- .per_output(from_logits, "from_logits", .check_flag)
  heteroscedastic <- .per_output(heteroscedastic, "heteroscedastic", .check_flag)
  min_samples <- .check_adaptive(tolerance, class_margin, min_samples, n_samples)
  adaptive <- !is.null(tolerance) || !is.null(class_margin)
  if (adaptive && ensemble) {
    arg <- if (is.null(tolerance)) "class_margin" else "tolerance"
    .abort(sprintf("`%s` is not available for an mc_ensemble; use `%s = NULL`.", arg, arg), "argument",
           arg = arg)
  }
  inputs <- .check_inputs(x)
  # The outputs, counted in Python (an attribute, not a bridge call): R
  # allocates one pair of Arrow structs per output.
  net <- if (ensemble) reticulate::py_get_item(reticulate::py_get_attr(model$ensemble, "members"), 0L) else model
  n_out <- as.integer(reticulate::py_len(reticulate::py_get_attr(net, "outputs")))
  for (arg in c("task", "from_logits", "heteroscedastic")) {
    v <- get(arg)
    if (length(v) != 1 && length(v) != n_out) {
      .abort(sprintf("`%s` must be one value or one per model output (%d), not %d values.", arg,
                     n_out, length(v)), "argument", arg = arg)
    }
  }
  task <- rep_len(task, n_out)
  from_logits <- rep_len(from_logits, n_out)
  heteroscedastic <- rep_len(heteroscedastic, n_out)
  bad <- heteroscedastic & task != "regression"
  if (any(bad)) {
    .abort(sprintf('`heteroscedastic = TRUE` needs `task = "regression"`%s.',
                   if (n_out > 1) sprintf(" (output %d)", which(bad)[1]) else ""),
           "argument", arg = "heteroscedastic")
  }
  if (!ensemble && n_samples == 1) {
    warning(structure(class = c("mcbridge_warning", "warning", "condition"), list(message = paste0(
      "`n_samples = 1` gives one stochastic pass per input: the spread measures need at least 2 ",
      "samples (variance is NA, mutual information and variation ratio are 0). Use n_samples >= 2, ",
      "e.g. 30."), call = NULL)))
  }
  exported <- lapply(inputs$arrays, function(a) .arrow_export_c(a, type = .x_type(a)))
  input_arg <- if (inputs$several) {
    reticulate::dict(arrays = lapply(exported, `[[`, "addr"), names = inputs$names)
  } else {
    exported[[1]]$addr
  }
  outs <- lapply(seq_len(n_out), function(i) .arrow_alloc_c())
  noises <- lapply(seq_len(n_out), function(i) if (heteroscedastic[i]) .arrow_alloc_c())
  used <- if (adaptive) .arrow_alloc_c()
  report <- FALSE
  if (progress) {
    bar <- .progress_bar("MC dropout")
    on.exit(bar$finish(), add = TRUE)
    report <- bar$update
  }
  one <- function(v) if (n_out == 1) v else as.list(v)
  info <- .bridge_call("predict", if (ensemble) model$ensemble else model, input_arg,
                       lapply(outs, `[[`, "addr"), n_samples, batch_size, seed, one(from_logits),
                       memory_budget, one(task), one(heteroscedastic), precision, report,
                       if (any(heteroscedastic)) lapply(noises, function(o) if (!is.null(o)) o$addr),
                       if (is.null(tolerance)) NULL else as.numeric(tolerance), min_samples,
                       if (!is.null(used)) used$addr,
                       if (is.null(class_margin)) NULL else as.numeric(class_margin))
  n_used <- if (!is.null(used)) as.integer(.arrow_import_c(used$array, used$schema))
  res <- lapply(seq_len(n_out), function(i) {
    s <- .arrow_import_c(outs[[i]]$array, outs[[i]]$schema)
    r <- if (inherits(s, "mc_prediction") && is.null(n_used)) {
      as_mc_prediction(s, task = task[i])
    } else {
      as_mc_prediction(.as_plain_samples(s), task = task[i], n_used = n_used)
    }
    if (heteroscedastic[i]) r$noise_variance <- .as_plain_samples(.arrow_import_c(noises[[i]]$array, noises[[i]]$schema))
    r
  })
  if (n_out == 1) {
    names <- if (!ensemble && task == "classification") .model_class_names(model)
    if (!is.null(names) && length(names) == utils::tail(dim(res[[1]]$all_samples), 2)[1]) {
      mc_class_names(res[[1]]) <- names  # (the levels mc_fit() trained on)
    }
    return(res[[1]])
  }
  stats::setNames(res, unlist(info$names))
}

# tolerance, class_margin: NULL or a number > 0, not both; min_samples: 2 to
# n_samples (returned as an integer).
.check_adaptive <- function(tolerance, class_margin, min_samples, n_samples) {
  for (arg in c("tolerance", "class_margin")) {
    v <- get(arg)
    if (!is.null(v) && !(is.numeric(v) && length(v) == 1 && !is.na(v) && is.finite(v) && v > 0)) {
      .abort(sprintf("`%s` must be NULL (every input gets `n_samples`) or a single number > 0 (e.g. %s), not %s.",
                     arg, if (arg == "tolerance") "0.01" else "2", .describe(v)), "argument", arg = arg)
    }
  }
  if (!is.null(tolerance) && !is.null(class_margin)) {
    .abort(paste0("Give one stopping rule: `tolerance` (an input stops once its mean probabilities are ",
                  "that precise) or `class_margin` (once its predicted class is settled), not both."),
           "argument", arg = "class_margin")
  }
  min_samples <- .check_count(min_samples, "min_samples", min = 2)
  if ((!is.null(tolerance) || !is.null(class_margin)) && min_samples > n_samples) {
    .abort(sprintf(paste0("`min_samples` (%d) must be at most `n_samples` (%d): every input gets ",
                          "`min_samples` samples, and at most `n_samples`."), min_samples, n_samples),
           "argument", arg = "min_samples")
  }
  min_samples
}

# The samples array of what .arrow_import_c() gave (an mc_prediction for
# 3-d MC samples, else the array itself).
.as_plain_samples <- function(s) if (inherits(s, "mc_prediction")) s$all_samples else s

# A per-output argument: one value for every output, or one per output
# (a vector or a list); each checked by `check(value, arg)`. The count is
# checked against the model's outputs in mc_predict().
.per_output <- function(v, arg, check) {
  if (is.list(v) && !is.object(v) && all(lengths(v) == 1)) v <- unlist(v)
  if (length(v) < 1) {
    .abort(sprintf("`%s` must be one value or one per model output, not %s.", arg, .describe(v)),
           "argument", arg = arg)
  }
  if (length(v) == 1) return(check(v, arg))
  vapply(seq_along(v), function(i) check(v[i], sprintf("%s[%d]", arg, i)), v[1])
}

# x: one array, or a list of arrays (several inputs), each checked by
# .check_x() and with the same first dimension.
.check_inputs <- function(x) {
  if (!is.list(x) || is.data.frame(x)) return(list(arrays = list(.check_x(x)), several = FALSE))
  if (length(x) == 0) {
    .abort("`x` is an empty list: give one array per model input.", "input", arg = "x")
  }
  nms <- names(x)
  if (!is.null(nms) && (any(is.na(nms) | !nzchar(nms)) || anyDuplicated(nms))) {
    .abort(paste0("`x` must be a list of arrays either all named by the model's input names ",
                  "(each name once) or all unnamed, in the model's input order."), "input", arg = "x")
  }
  label <- function(i) if (is.null(nms)) sprintf("x[[%d]]", i) else sprintf("x$%s", nms[i])
  arrays <- lapply(seq_along(x), function(i) .check_x(x[[i]], label(i)))
  n <- vapply(arrays, function(a) dim(a)[1], 1L)
  if (length(unique(n)) > 1) {
    .abort(sprintf(paste0("The inputs in `x` must have the same number of rows (inputs), but %s ",
                          "have %s rows."), paste(vapply(seq_along(x), label, ""), collapse = ", "),
                   paste(n, collapse = ", ")), "input", arg = "x")
  }
  list(arrays = arrays, several = TRUE, names = if (!is.null(nms)) as.list(nms))
}

# R's own progress bar, fed by Python (at most 5 updates a second; see
# mcbridge/_rbridge.py). cli's bar in interactive sessions when cli is
# installed, otherwise utils::txtProgressBar. `update(done, total)` receives
# Python objects (the bridge module has convert = FALSE).
.progress_bar <- function(label) {
  state <- new.env(parent = emptyenv())
  use_cli <- interactive() && requireNamespace("cli", quietly = TRUE)
  update <- function(done, total) {
    done <- reticulate::py_to_r(done)
    total <- reticulate::py_to_r(total)
    if (is.null(state$bar)) {
      state$total <- total
      state$bar <- if (use_cli) {
        cli::cli_progress_bar(label, total = total, clear = TRUE, .envir = state)
      } else {
        utils::txtProgressBar(min = 0, max = max(total, 1), style = 3)
      }
    }
    if (use_cli) cli::cli_progress_update(id = state$bar, set = done, .envir = state)
    else utils::setTxtProgressBar(state$bar, done)
    invisible(NULL)
  }
  finish <- function() {
    if (is.null(state$bar)) return(invisible())
    if (use_cli) cli::cli_progress_done(id = state$bar, .envir = state) else close(state$bar)
    state$bar <- NULL
    invisible()
  }
  list(update = update, finish = finish)
}
