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
#' @param model A Keras model (from [mc_cnn()], [mc_load_model()], keras3 or
#'   `reticulate::import("keras")`) whose output is `(batch, classes)`; or an
#'   `mc_ensemble` (from [mc_train_ensemble()] or [mc_load_ensemble()]).
#' @param x Inputs: an array `c(n, height, width, channels)`, or
#'   `c(n, height, width)` for one channel, or a matrix `c(n, features)`;
#'   finite numbers only.
#' @param n_samples Number of stochastic passes per input. For an
#'   `mc_ensemble` the default is 1 (as in Python): one deterministic
#'   prediction per member (dropout off, `progress` not shown); `n_samples > 1`
#'   samples MC dropout inside each member.
#' @param batch_size At most this many inputs per compiled call.
#' @param seed `NULL` (fresh randomness on every call), or a non-negative
#'   whole number: each input's masks then come from a random stream keyed by
#'   the seed and the input's row.
#' @param from_logits `TRUE` if the model outputs logits: a softmax is applied
#'   to each sample.
#' @param memory_budget Bytes of activations one compiled call may use
#'   (default 256 MiB, as in Python).
#' @param task `"classification"` (outputs are class probabilities) or
#'   `"regression"` (real-valued outputs; the result's `mean`, `variance` and
#'   `all_samples` are then per output).
#' @param heteroscedastic With `task = "regression"`: the model's output
#'   `(batch, 2 * d)` holds `d` means then `d` log-variances; the samples are
#'   the means and the result gains `noise_variance` (`dim = c(n, d,
#'   samples)`, the predicted noise variance of each sample).
#' @param precision `"float32"`, or `"bfloat16"` to compute the convolutions and
#'   dense layers after the first dropout in bfloat16 on CPUs with bfloat16
#'   instructions (about 1.5-1.6x faster there; samples still come back as
#'   float32; elsewhere a warning and float32).
#' @param progress Show a progress bar while Python works (default: in
#'   interactive sessions): cli's if installed, else [utils::txtProgressBar()];
#'   updated at most 5 times a second. Ctrl-C stops the prediction cleanly.
#' @return An `mc_prediction`: a list with `mean` (`n x classes`), `variance`
#'   (`n x classes`, as [stats::var()] over the samples) and `all_samples`
#'   (`dim = c(n, classes, samples)`), plus `noise_variance` for a
#'   heteroscedastic model; `mc_task()` tells its task.
#' @family prediction
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' res <- mc_predict(model, d$test$x[1:5, , ] / 16, n_samples = 10, seed = 1)
#' res
#' @export
mc_predict <- function(model, x, n_samples = 50, batch_size = 128, seed = NULL,
                       from_logits = FALSE, memory_budget = 256 * 2^20,
                       task = "classification", heteroscedastic = FALSE,
                       precision = "float32", progress = interactive()) {
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
  from_logits <- .check_flag(from_logits, "from_logits")
  memory_budget <- .check_bytes(memory_budget, "memory_budget")
  task <- .check_string(task, "task", c("classification", "regression"))
  heteroscedastic <- .check_flag(heteroscedastic, "heteroscedastic")
  if (heteroscedastic && task != "regression") {
    .abort('`heteroscedastic = TRUE` needs `task = "regression"`.', "argument",
           arg = "heteroscedastic")
  }
  precision <- .check_string(precision, "precision", c("float32", "bfloat16"))
  progress <- .check_flag(progress, "progress")
  x <- .check_x(x)
  if (!ensemble && n_samples == 1) {
    warning(structure(class = c("mcbridge_warning", "warning", "condition"), list(message = paste0(
      "`n_samples = 1` gives one stochastic pass per input: the spread measures need at least 2 ",
      "samples (variance is NA, mutual information and variation ratio are 0). Use n_samples >= 2, ",
      "e.g. 30."), call = NULL)))
  }
  input <- .arrow_export_c(x, type = .x_type(x))
  out <- .arrow_alloc_c()
  report <- FALSE
  if (progress) {
    bar <- .progress_bar("MC dropout")
    on.exit(bar$finish(), add = TRUE)
    report <- bar$update
  }
  noise <- if (heteroscedastic) .arrow_alloc_c() else NULL
  .bridge_call("predict", if (ensemble) model$ensemble else model, input$addr, out$addr,
               n_samples, batch_size, seed, from_logits, memory_budget, task, heteroscedastic,
               precision, report,
               if (heteroscedastic) noise$addr else NULL)
  res <- as_mc_prediction(.arrow_import_c(out$array, out$schema), task = task)
  if (heteroscedastic) res$noise_variance <- .arrow_import_c(noise$array, noise$schema)
  res
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
