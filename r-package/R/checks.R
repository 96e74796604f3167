# Conditions and argument checks. Every exported function checks its
# arguments here, in R, before any Python or C code runs; every error the
# package raises goes through .abort(), so it is a classed condition:
#
#   mcbridge_error                 any error raised by mcbridge
#   |- mcbridge_error_argument     a bad scalar argument (n_samples, seed, ...)
#   |- mcbridge_error_input        bad data (x, y, an mc_prediction, a path)
#   |- mcbridge_error_model        not a Keras model, or one that cannot work
#   |- mcbridge_error_arrow        an Arrow file or array mcbridge cannot read
#   |- mcbridge_error_io           a file could not be written
#   `- mcbridge_error_python       the Python engine is missing or failed
#
# Catch them with tryCatch(..., mcbridge_error_input = function(e) ...).

.abort <- function(message, class = NULL, ..., call = NULL) {
  cls <- c(if (!is.null(class)) paste0("mcbridge_error_", class),
           "mcbridge_error", "error", "condition")
  stop(structure(class = cls, list(message = paste(message, collapse = "\n"),
                                   call = call, ...)))
}

.describe <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.data.frame(x)) return("a data.frame")
  if (is.factor(x)) return("a factor")
  cls <- class(x)[1]
  if (is.atomic(x) && length(x) == 1) {
    return(sprintf("%s (%s)", if (is.character(x)) dQuote(x, FALSE) else format(x), cls))
  }
  if (is.atomic(x) && is.null(dim(x))) return(sprintf("a %s vector of length %d", typeof(x), length(x)))
  if (is.list(x) && !is.object(x)) return(sprintf("a list of length %d", length(x)))
  sprintf("an object of class '%s'", cls)
}

# A whole number in [min, .Machine$integer.max], returned as an integer.
.check_count <- function(x, arg, min = 1) {
  what <- if (min <= 0) "a non-negative whole number" else sprintf("a whole number >= %s", min)
  if (!is.numeric(x) || is.factor(x) || length(x) != 1) {
    hint <- if (is.logical(x)) " (TRUE/FALSE is not a number here)" else ""
    .abort(sprintf("`%s` must be %s, not %s%s.", arg, what, .describe(x), hint), "argument",
           arg = arg)
  }
  if (is.na(x)) .abort(sprintf("`%s` must be %s, not NA.", arg, what), "argument", arg = arg)
  if (!is.finite(x) || x != round(x)) {
    .abort(sprintf("`%s` must be %s, not %s.", arg, what, format(x)), "argument", arg = arg)
  }
  if (x < min) {
    .abort(sprintf("`%s` must be %s, not %s.", arg, what, format(x)), "argument", arg = arg)
  }
  if (x > .Machine$integer.max) {
    .abort(sprintf("`%s` must be at most %d (.Machine$integer.max), not %s.",
                   arg, .Machine$integer.max, format(x, scientific = FALSE)), "argument", arg = arg)
  }
  as.integer(x)
}

.check_seed <- function(seed) {
  if (is.null(seed)) return(NULL)
  .check_count(seed, "seed", min = 0)
}

# A byte count: a whole number >= 1, which may exceed the integer range
# (returned as a double holding a whole number; Python gets an int).
.check_bytes <- function(x, arg) {
  if (!is.numeric(x) || is.factor(x) || length(x) != 1 || is.na(x) || !is.finite(x) ||
      x != round(x) || x < 1 || x > 2^53) {
    .abort(sprintf("`%s` must be a whole number of bytes >= 1 (e.g. 256 * 2^20), not %s.",
                   arg, if (is.numeric(x) && length(x) == 1) format(x) else .describe(x)),
           "argument", arg = arg)
  }
  as.numeric(x)
}

.check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    .abort(sprintf("`%s` must be TRUE or FALSE, not %s.", arg, .describe(x)), "argument", arg = arg)
  }
  x
}

.check_string <- function(x, arg, choices = NULL) {
  if (!is.character(x) || length(x) != 1 || is.na(x) || (!is.null(choices) && !x %in% choices)) {
    want <- if (is.null(choices)) "a single string" else
      paste0("one of ", paste0('"', choices, '"', collapse = ", "))
    .abort(sprintf("`%s` must be %s, not %s.", arg, want, .describe(x)), "argument", arg = arg)
  }
  x
}

.check_path <- function(path, arg = "path", exists = FALSE) {
  if (!is.character(path) || length(path) != 1 || is.na(path) || !nzchar(path)) {
    .abort(sprintf("`%s` must be a single file path, not %s.", arg, .describe(path)), "input",
           arg = arg)
  }
  path <- path.expand(path)
  if (exists && !file.exists(path)) {
    .abort(sprintf("`%s` must be an existing file; '%s' does not exist.", arg, path), "input",
           arg = arg)
  }
  if (exists && dir.exists(path)) {
    .abort(sprintf("`%s` must be a file; '%s' is a directory.", arg, path), "input", arg = arg)
  }
  path
}

.is_keras_model <- function(x) {
  inherits(x, "python.builtin.object") &&
    any(grepl("^(keras|tensorflow|tf_keras)(\\.[[:alnum:]_]+)*\\.(Model|Sequential|Functional)$",
              class(x)))
}

.check_model <- function(model, arg = "model") {
  if (!.is_keras_model(model)) {
    .abort(sprintf(paste0("`%s` must be a Keras model (from mc_cnn(), mc_load_model(), ",
                          "keras3 or reticulate::import(\"keras\")), not %s."),
                   arg, .describe(model)), "model", arg = arg)
  }
  invisible(model)
}

# x: a numeric array c(n, ...) with finite values. One pass over the data
# (is.finite); the shape against the model is checked with the model, in the
# same call that predicts (R does not ask Python for it separately).
.check_x <- function(x, arg = "x") {
  if (is.data.frame(x)) {
    .abort(sprintf(paste0("`%s` must be a numeric array, not a data.frame; convert it with ",
                          "as.matrix(%s) (one row per input) or build an array with array()."),
                   arg, arg), "input", arg = arg)
  }
  if (is.factor(x)) {
    .abort(sprintf("`%s` must be a numeric array, not a factor; use as.integer() or one-hot columns.",
                   arg), "input", arg = arg)
  }
  if (!(is.numeric(x) || is.logical(x))) {
    hint <- if (is.character(x)) "; convert it with as.numeric() first" else
      if (is.list(x)) "; combine the inputs into one array with array() or simplify2array()" else ""
    .abort(sprintf("`%s` must be a numeric array, not %s%s.", arg, .describe(x), hint),
           "input", arg = arg)
  }
  d <- dim(x)
  if (is.null(d) || length(d) < 2) {
    .abort(sprintf(paste0("`%s` must be an array with dim c(n, height, width, channels) ",
                          "or c(n, height, width) (or a matrix c(n, features)), not a vector ",
                          "of length %d; add the dimensions with dim(%s) <- ..."),
                   arg, length(x), arg), "input", arg = arg)
  }
  if (is.double(x)) {
    n_bad <- length(x) - sum(is.finite(x))
    if (n_bad > 0) {
      n_na <- sum(is.na(x))
      .abort(sprintf(paste0("`%s` must hold finite numbers, but %d of its %d values are ",
                            "NA, NaN or infinite (%d NA/NaN, %d infinite); remove or impute ",
                            "them first."), arg, n_bad, length(x), n_na, n_bad - n_na),
             "input", arg = arg, n_bad = n_bad)
    }
  } else if (anyNA(x)) {
    n_bad <- sum(is.na(x))
    .abort(sprintf("`%s` must hold finite numbers, but %d of its %d values are NA; remove or impute them first.",
                   arg, n_bad, length(x)), "input", arg = arg, n_bad = n_bad)
  }
  x
}

# y: labels (integer / numeric / factor, codes from 0) or a matrix c(n, k).
# The upper bound (classes - 1) is the model's and is checked with it.
.check_y <- function(y, n, arg = "y") {
  if (is.factor(y)) y <- as.integer(y) - 1L
  if (is.data.frame(y)) {
    .abort(sprintf("`%s` must be a vector of labels, not a data.frame; pass one column, e.g. df$label.",
                   arg), "input", arg = arg)
  }
  if (!(is.numeric(y) || is.logical(y))) {
    .abort(sprintf("`%s` must be integer, numeric or factor labels, not %s.", arg, .describe(y)),
           "input", arg = arg)
  }
  ny <- if (is.null(dim(y))) length(y) else dim(y)[1]
  if (ny != n) {
    .abort(sprintf("`%s` has %d labels but `x` has %d inputs; give one label per input.",
                   arg, ny, n), "input", arg = arg)
  }
  if (anyNA(y)) {
    .abort(sprintf("`%s` must not contain NA labels (found %d).", arg, sum(is.na(y))), "input",
           arg = arg)
  }
  if (is.null(dim(y))) {
    bad <- !is.finite(y) | y != round(y) | y < 0 | y > .Machine$integer.max
    if (any(bad)) {
      .abort(sprintf(paste0("`%s` must hold class codes 0, 1, ..., classes - 1 (or a factor); ",
                            "%d labels are negative, not whole numbers or too large, e.g. %s."),
                     arg, sum(bad), format(y[which(bad)[1]])), "input", arg = arg)
    }
    y <- as.integer(y)
  }
  y
}
