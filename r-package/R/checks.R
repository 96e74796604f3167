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

# A data.frame or tibble of numeric (or logical) columns as a double matrix
# c(n, features), one row per input, columns in order. Factor, character and
# other columns are refused: mcbridge does not guess an encoding.
.table_matrix <- function(x, arg = "x") {
  ok <- vapply(x, function(col) (is.numeric(col) || is.logical(col)) && is.null(dim(col)) &&
                 !is.factor(col), TRUE)
  if (!all(ok)) {
    bad <- names(x)[!ok]
    kinds <- vapply(x[!ok], function(col) class(col)[1], "")
    .abort(sprintf(paste0(
      "`%s` must have numeric columns only; %s %s not numeric (%s). Encode them first, ",
      "e.g. one-hot columns with model.matrix(~ . - 1, %s), or drop them."),
      arg, .quote_some(bad), if (length(bad) == 1) "is" else "are",
      paste(unique(kinds), collapse = ", "), arg), "input", arg = arg, columns = bad)
  }
  if (ncol(x) == 0) {
    .abort(sprintf("`%s` has no columns.", arg), "input", arg = arg)
  }
  m <- matrix(as.double(unlist(x, use.names = FALSE)), nrow(x), ncol(x))
  colnames(m) <- names(x)
  m
}

# x: a numeric array c(n, ...) with finite values. One pass over the data
# (is.finite); the shape against the model is checked with the model, in the
# same call that predicts (R does not ask Python for it separately).
.check_x <- function(x, arg = "x") {
  if (is.data.frame(x)) x <- .table_matrix(x, arg)
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
  if (length(d) >= 2 && d[1] == 0) {
    .abort(sprintf("`%s` is empty (dim c(%s)): give at least one input.", arg, paste(d, collapse = ", ")),
           "input", arg = arg)
  }
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

# ---- class labels: the one rule ------------------------------------------------
#
# Every function that takes class labels (the metrics, mc_evaluate_uncertainty(),
# mc_tidy(), augment(), calibration, conformal sets, plots, mc_fit() and
# friends) turns them into 0-based codes here. The rule (Python's
# mcbridge._checks.check_labels for the codes):
#   * numbers: whole-number class codes 0, 1, ..., k - 1 (as in Python);
#   * a factor or character vector where the classes have names (an
#     mc_prediction's mc_class_names()): matched by *name*, an error naming
#     the labels that match no class;
#   * a factor where the classes have no names: levels that are all whole
#     numbers ("0", "2", ...) are the codes themselves; other levels are
#     classes 0, 1, ... in level order;
#   * character labels without class names, logicals, NA: refused.
.class_codes <- function(y, n, k = NULL, class_names = NULL, arg = "y") {
  if (missing(y)) {
    .abort(sprintf("`%s` is missing: give the labels, one per input.", arg), "argument", arg = arg)
  }
  if (is.data.frame(y)) {
    .abort(sprintf("`%s` must be a vector of labels, not a data.frame; pass one column, e.g. df$label.",
                   arg), "input", arg = arg)
  }
  if (is.matrix(y) && ncol(y) == 1) y <- if (is.factor(y)) y else y[, 1]
  if (!is.null(dim(y))) {
    hint <- if (length(dim(y)) == 2 && nrow(y) == n && (is.null(k) || ncol(y) == k)) {
      sprintf("; these look one-hot encoded: pass max.col(%s) - 1", arg)
    } else ""
    .abort(sprintf("`%s` must be a vector of %d labels, not an array with dim c(%s)%s.",
                   arg, n, paste(dim(y), collapse = ", "), hint), "input", arg = arg)
  }
  ok_type <- is.factor(y) || is.character(y) || is.numeric(y)
  if (!ok_type) {
    hint <- if (is.logical(y)) sprintf(" (for the classes 0 = FALSE and 1 = TRUE, pass as.integer(%s))", arg) else ""
    .abort(sprintf("`%s` must be class codes (whole numbers from 0), a factor or class names, not %s%s.",
                   arg, .describe(y), hint), "input", arg = arg)
  }
  if (length(y) != n) {
    .abort(sprintf("`%s` has %d labels but there are %d inputs; give one label per input.",
                   arg, length(y), n), "input", arg = arg)
  }
  if (anyNA(y)) {
    .abort(sprintf("`%s` must not contain NA labels (found %d); leave out the inputs without a label.",
                   arg, sum(is.na(y))), "input", arg = arg)
  }
  if (is.factor(y) || is.character(y)) {
    labels <- as.character(y)
    if (!is.null(class_names)) {
      codes <- match(labels, class_names) - 1L
      if (anyNA(codes)) {
        bad <- unique(labels[is.na(codes)])
        .abort(sprintf(paste0(
          "`%s` has labels that are not class names: %s. The classes are %s. Labels are ",
          "matched to the class names by name; rename them (e.g. with levels()), or drop ",
          "the class names with mc_class_names(res) <- NULL to use the factor's codes."),
          arg, .quote_some(bad), .quote_some(class_names)), "input", arg = arg, unmatched = bad)
      }
      return(codes)
    }
    if (is.character(y)) {
      .abort(sprintf(paste0(
        "`%s` holds class names (%s) but the classes have no names to match them with; ",
        "set them with mc_class_names(res) <- c(...), or pass class codes 0, 1, ... or a factor."),
        arg, .quote_some(unique(labels))), "input", arg = arg)
    }
    lv <- levels(y)
    if (length(lv) && all(grepl("^[0-9]+$", lv))) {
      y <- as.numeric(labels)             # numeric levels are the codes themselves
    } else {
      if (!is.null(k) && length(lv) > k) {
        .abort(sprintf(paste0("`%s` is a factor with %d levels but there are %d classes; its ",
                              "levels are taken as classes 0, 1, ... in level order."),
                       arg, length(lv), k), "input", arg = arg)
      }
      return(as.integer(y) - 1L)
    }
  }
  bad <- !is.finite(y) | y != round(y)
  if (any(bad)) {
    .abort(sprintf("`%s` must hold whole-number class codes (0, 1, ..., classes - 1), not e.g. %s.",
                   arg, format(y[which(bad)[1]])), "input", arg = arg)
  }
  top <- if (is.null(k)) .Machine$integer.max else k - 1
  out <- y < 0 | y > top
  if (any(out)) {
    hint <- if (!is.null(k) && min(y) >= 1 && max(y) == k) {
      sprintf(" They look counted from 1: pass %s - 1.", arg)
    } else ""
    .abort(sprintf("`%s` must hold class codes in [0, %s] (classes counted from 0, as in Python); %d labels are outside, from %s to %s.%s",
                   arg, if (is.null(k)) "classes - 1" else k - 1, sum(out),
                   format(min(y)), format(max(y)), hint), "input", arg = arg)
  }
  as.integer(y)
}

# The class names an object carries (an mc_prediction's), else NULL.
.names_of <- function(x) if (inherits(x, "mc_prediction")) mc_class_names(x) else NULL

# "a", "b", "c" and 4 more
.quote_some <- function(x, max = 6) {
  s <- paste0("\"", utils::head(x, max), "\"", collapse = ", ")
  if (length(x) > max) s <- sprintf("%s and %d more", s, length(x) - max)
  s
}

# y for training: class labels (a factor or class names become codes; the
# model checks their range) or real-valued targets (a vector, or a matrix
# c(n, outputs)), which the model's loss decides between in Python.
.check_y <- function(y, n, arg = "y", class_names = NULL) {
  if (is.data.frame(y)) {
    if (ncol(y) == 1) y <- y[[1]] else y <- as.matrix(y)
  }
  if (is.factor(y) || is.character(y) || is.logical(y)) {
    return(.class_codes(y, n, class_names = class_names, arg = arg))
  }
  if (!is.numeric(y)) {
    .abort(sprintf("`%s` must be class codes, a factor, or numeric targets, not %s.", arg, .describe(y)),
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
  if (any(!is.finite(y))) {
    .abort(sprintf("`%s` must hold finite values (found %d infinite).", arg, sum(!is.finite(y))),
           "input", arg = arg)
  }
  y
}
