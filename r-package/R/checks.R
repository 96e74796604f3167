# Argument checks, run in R before Python is called.

.describe <- function(x) {
  if (is.null(x)) return("NULL")
  cls <- class(x)[1]
  if (is.atomic(x) && length(x) == 1) return(sprintf("%s (%s)", format(x), cls))
  sprintf("an object of class '%s'", cls)
}

.check_count <- function(x, arg, min = 1) {
  ok <- (is.numeric(x) || is.logical(x)) && length(x) == 1 && !is.na(x) &&
    is.finite(x) && x == round(x) && x >= min
  if (!isTRUE(ok)) {
    stop(sprintf("`%s` must be a single whole number >= %s, not %s.",
                 arg, min, .describe(x)), call. = FALSE)
  }
  as.integer(x)
}

.check_seed <- function(seed) {
  if (is.null(seed)) return(NULL)
  .check_count(seed, "seed", min = 0)
}

.check_flag <- function(x, arg) {
  if (!is.logical(x) || length(x) != 1 || is.na(x)) {
    stop(sprintf("`%s` must be TRUE or FALSE, not %s.", arg, .describe(x)), call. = FALSE)
  }
  x
}

.is_keras_model <- function(x) {
  inherits(x, "python.builtin.object") &&
    any(grepl("^(keras|tensorflow|tf_keras)(\\.[[:alnum:]_]+)*\\.(Model|Sequential|Functional)$",
              class(x)))
}

.check_model <- function(model, arg = "model") {
  if (!.is_keras_model(model)) {
    stop(sprintf(paste0("`%s` must be a Keras model (from mc_cnn(), mc_load_model() ",
                        "or the keras3 package), not %s."), arg, .describe(model)),
         call. = FALSE)
  }
  invisible(model)
}

# x: c(n, ...) numeric array without NA/NaN (pure R, no Python).
.check_x <- function(x, arg = "x") {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!(is.numeric(x) || is.logical(x)) || is.factor(x)) {
    stop(sprintf("`%s` must be a numeric array, not %s.", arg, .describe(x)), call. = FALSE)
  }
  d <- dim(x)
  if (is.null(d) || length(d) < 2) {
    stop(sprintf(paste0("`%s` must be an array with dim c(n, height, width, channels) ",
                        "or c(n, height, width) (or a matrix c(n, features)), not a vector ",
                        "of length %d."), arg, length(x)), call. = FALSE)
  }
  if (d[1] < 1) stop(sprintf("`%s` has no rows (dim(%s)[1] is 0).", arg, arg), call. = FALSE)
  n_bad <- sum(is.na(x))
  if (n_bad > 0) {
    stop(sprintf("`%s` must not contain NA or NaN values (found %d).", arg, n_bad), call. = FALSE)
  }
  x
}

# Adds a channel axis when x is c(n, h, w) and the model wants 4-d input;
# errors when the rank does not match the model's.
.adapt_x <- function(x, model, arg = "x") {
  d <- dim(x)
  want <- .model_input_rank(model)
  if (is.na(want)) {
    if (length(d) == 3) dim(x) <- c(d, 1L)
  } else if (length(d) == want - 1 && want == 4) {
    dim(x) <- c(d, 1L)
  } else if (length(d) != want) {
    stop(sprintf("`%s` has dim c(%s) but the model expects %d-d input (n%s).",
                 arg, paste(d, collapse = ", "), want,
                 strrep(", .", want - 1)), call. = FALSE)
  }
  x
}

.model_input_rank <- function(model) {
  r <- tryCatch(reticulate::py_to_r(.glue()$input_rank(model)), error = function(e) NA)
  if (is.null(r)) NA_integer_ else as.integer(r)
}

# y: labels (integer / numeric / factor, codes from 0) or a matrix c(n, k).
.check_y <- function(y, n, arg = "y") {
  if (is.factor(y)) y <- as.integer(y) - 1L
  if (!(is.numeric(y) || is.logical(y))) {
    stop(sprintf("`%s` must be integer, numeric or factor labels, not %s.", arg, .describe(y)),
         call. = FALSE)
  }
  ny <- if (is.null(dim(y))) length(y) else dim(y)[1]
  if (ny != n) {
    stop(sprintf("`%s` has %d rows but `x` has %d.", arg, ny, n), call. = FALSE)
  }
  if (anyNA(y)) stop(sprintf("`%s` must not contain NA values.", arg), call. = FALSE)
  if (is.null(dim(y)) && is.numeric(y) && all(y == round(y))) y <- as.integer(y)
  y
}

.y_type <- function(y) {
  if (is.integer(y) || is.logical(y)) nanoarrow::na_int32() else nanoarrow::na_float()
}
