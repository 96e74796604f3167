# Reading the mcbridge Arrow format (docs/ARROW.md; the Python side is
# mcbridge/arrow.py): one `values` column, column-major ("F") order, which is
# R's own order, so arrays arrive with one pass and no transpose. Schema
# metadata: mcbridge:format ("1"), mcbridge:kind, mcbridge:shape (JSON),
# mcbridge:dim_names (JSON), mcbridge:order ("F"), and the optional
# mcbridge:class_names (JSON list of strings, one per entry of axis 1).
#
# Everything read is checked before any value is converted or any memory
# sized from the file is allocated: the metadata, the value type, nulls, and
# the shape against the number of values actually present.

.mc_dim_names <- c("n", "classes", "samples")
.mc_format <- "1"
# Arrow formats mcbridge reads, and the R type they become.
.value_formats <- c(f = "double", g = "double", c = "integer", C = "integer", s = "integer",
                    S = "integer", i = "integer", I = "double", l = "double", L = "double",
                    b = "logical")

.parse_shape <- function(s) {
  v <- tryCatch(jsonlite::fromJSON(s, simplifyVector = TRUE), error = function(e) e)
  ok <- !inherits(v, "error") && (is.numeric(v) || is.logical(v)) && is.null(dim(v)) &&
    length(v) >= 1 && all(!is.na(v[-1]))
  if (ok) {
    w <- v[!is.na(v)]
    ok <- all(is.finite(w) & w >= 0 & w == round(w))
  }
  if (!ok) {
    .abort(paste0("Invalid mcbridge:shape metadata ", encodeString(substr(s, 1, 80), quote = '"'),
                  ": expected a JSON list of non-negative whole numbers (the first may be null)."),
           "arrow")
  }
  as.numeric(v)
}

.read_meta <- function(schema) {
  meta <- schema$metadata
  get <- function(key) {
    v <- meta[[key]]
    if (is.null(v)) NULL else if (is.raw(v)) rawToChar(v[v != as.raw(0)]) else as.character(v)
  }
  format <- get("mcbridge:format")
  if (is.null(format)) {
    .abort(paste0("This Arrow data is not an mcbridge array (no mcbridge:format metadata); ",
                  "read it with nanoarrow::read_nanoarrow() or arrow::read_ipc_stream()."), "arrow")
  }
  if (!identical(format, .mc_format)) {
    .abort(sprintf(paste0("Unknown mcbridge:format version %s (this package reads version %s); ",
                          "update the mcbridge R package."),
                   encodeString(substr(format, 1, 20), quote = '"'), .mc_format), "arrow")
  }
  order <- get("mcbridge:order") %||% "F"
  if (!identical(order, "F")) {
    .abort(sprintf("Unsupported mcbridge:order '%s' (expected 'F').", substr(order, 1, 20)), "arrow")
  }
  kind <- get("mcbridge:kind") %||% "array"
  if (!kind %in% c("mc_samples", "array")) {
    .abort(sprintf("Unknown mcbridge:kind '%s' (expected 'mc_samples' or 'array').", substr(kind, 1, 40)),
           "arrow")
  }
  shape <- get("mcbridge:shape")
  list(kind = kind, shape = if (is.null(shape)) NULL else .parse_shape(shape),
       class_names = get("mcbridge:class_names"))
}

# mcbridge:class_names: a JSON list of strings, one per entry of axis 1.
.parse_class_names <- function(s, shape) {
  v <- tryCatch(jsonlite::fromJSON(s, simplifyVector = FALSE), error = function(e) e)
  ok <- !inherits(v, "error") && is.list(v) && is.null(names(v)) && length(shape) >= 2 &&
    length(v) == shape[2] && all(vapply(v, function(x) is.character(x) && length(x) == 1, TRUE))
  if (!ok) {
    .abort(sprintf(paste0("Invalid mcbridge:class_names metadata %s: expected a JSON list of %s ",
                          "strings (one per entry of axis 1)."),
                   encodeString(substr(s, 1, 80), quote = '"'),
                   if (length(shape) >= 2) format(shape[2], scientific = FALSE) else "axis-1"),
           "arrow")
  }
  enc2utf8(unlist(v, use.names = FALSE) %||% character())
}

.child_length <- function(child) {
  n <- child$length
  if (!is.numeric(n) || length(n) != 1 || is.na(n) || n < 0) {
    .abort("Invalid Arrow array length.", "arrow")
  }
  n
}

.check_no_nulls <- function(child) {
  nc <- child$null_count
  if (nc > 0) {
    .abort(sprintf("mcbridge Arrow data must not contain nulls (found %s).", format(nc)), "arrow")
  }
  if (nc < 0) {
    validity <- child$buffers[[1]]
    if (!is.null(validity) && length(validity) > 0) {
      .abort("mcbridge Arrow data must not contain nulls (it has a validity bitmap).", "arrow")
    }
  }
}

# `schema`: nanoarrow_schema; `batches`: list of struct nanoarrow_arrays.
.from_arrow_batches <- function(schema, batches) {
  meta <- .read_meta(schema)
  if (!identical(schema$format, "+s") || length(schema$children) < 1) {
    .abort("mcbridge Arrow data must be a record batch with a `values` column.", "arrow")
  }
  format <- schema$children[[1]]$format
  if (!format %in% names(.value_formats)) {
    .abort(sprintf("Unsupported Arrow value type '%s' for mcbridge values (expected a number or boolean).",
                   substr(format, 1, 20)), "arrow")
  }
  if (meta$kind == "mc_samples" && !format %in% c("f", "g")) {
    .abort(sprintf("MC samples must be float32 values, not Arrow type '%s'.", format), "arrow")
  }
  ptype <- vector(.value_formats[[format]], 0)
  children <- lapply(batches, function(b) {
    if (length(b$children) < 1) .abort("A record batch has no `values` column.", "arrow")
    b$children[[1]]
  })
  lens <- vapply(children, .child_length, 0)
  keep <- lens > 0
  children <- children[keep]
  lens <- lens[keep]
  total <- sum(lens)
  # The shape, checked against the values present before anything is sized.
  shape <- meta$shape %||% total
  if (length(shape) >= 1 && is.na(shape[1])) {
    tail_size <- prod(shape[-1])
    if (tail_size == 0 || total %% tail_size != 0) {
      .abort("Cannot infer the row count from the data.", "arrow")
    }
    shape[1] <- total / tail_size
  }
  if (prod(shape) != total) {
    .abort(sprintf("Arrow data holds %s values but its mcbridge:shape [%s] needs %s.",
                   format(total, scientific = FALSE), paste(format(shape, scientific = FALSE), collapse = ", "),
                   format(prod(shape), scientific = FALSE)), "arrow")
  }
  if (total > .Machine$integer.max && length(shape) > 1 && any(shape > .Machine$integer.max)) {
    .abort("An array dimension exceeds R's limit of .Machine$integer.max.", "arrow")
  }
  if (meta$kind == "mc_samples" && length(shape) != 3) {
    .abort(sprintf("MC samples must be 3-d (n, classes, samples), not %d-d.", length(shape)), "arrow")
  }
  class_names <- if (is.null(meta$class_names)) NULL else .parse_class_names(meta$class_names, shape)
  tail_size <- if (length(shape) > 1) prod(shape[-1]) else 1
  if (length(children) > 1 && any(lens %% tail_size != 0)) {
    .abort("A record batch does not hold whole rows of the array.", "arrow")
  }
  for (ch in children) .check_no_nulls(ch)
  convert <- function(child) {
    # float32 (MC samples, the large case): src/convert.c.
    if (format == "f") .Call(mcb_float32_to_double, child) else nanoarrow::convert_array(child, ptype)
  }
  if (length(children) == 0) {
    out <- ptype
  } else if (length(children) == 1) {
    out <- convert(children[[1]])
  } else {
    out <- matrix(ptype[NA_integer_], shape[1], tail_size)
    row <- 0
    for (ch in children) {
      v <- convert(ch)
      m <- length(v) / tail_size
      out[row + seq_len(m), ] <- v
      row <- row + m
    }
  }
  if (length(shape) >= 2) dim(out) <- shape else out <- as.vector(out)
  if (meta$kind == "mc_samples") {
    res <- as_mc_prediction(out)
    if (!is.null(class_names)) mc_class_names(res) <- class_names
    return(res)
  }
  out
}

# A filled ArrowArray / ArrowSchema pair (e.g. exported by Python) -> R.
.arrow_import_c <- function(array, schema) {
  nanoarrow::nanoarrow_array_set_schema(array, schema, validate = FALSE)
  out <- .from_arrow_batches(schema, list(array))
  nanoarrow::nanoarrow_pointer_release(array)
  out
}

#' Convert mcbridge Arrow data to an R object
#'
#' The in-memory counterpart of [mc_read_arrow()], used by Python's
#' `mcbridge.r` (rpy2) and for Arrow data obtained in R by other means: a
#' `nanoarrow_array` (a record batch with mcbridge metadata) or a
#' `nanoarrow_array_stream`.
#'
#' @param x A `nanoarrow_array` with its schema, or a `nanoarrow_array_stream`.
#' @return An `mc_prediction` for MC samples (with the stored class names,
#'   [mc_class_names()], if any), otherwise an R array (a vector for 1-d
#'   data).
#' @family Arrow
#' @examples
#' a <- mc_to_arrow(array(1:6, c(2, 3)))
#' mc_from_arrow(a)
#' @export
mc_from_arrow <- function(x) {
  if (inherits(x, "nanoarrow_array_stream")) {
    schema <- x$get_schema()
    batches <- list()
    while (!is.null(b <- x$get_next())) batches[[length(batches) + 1]] <- b
    return(.from_arrow_batches(schema, batches))
  }
  if (!inherits(x, "nanoarrow_array")) {
    .abort(sprintf("`x` must be a nanoarrow_array or nanoarrow_array_stream, not %s.", .describe(x)),
           "input", arg = "x")
  }
  .from_arrow_batches(nanoarrow::infer_nanoarrow_schema(x), list(x))
}

#' Read an mcbridge Arrow IPC file
#'
#' Reads files written by [mc_write_arrow()] or Python's
#' `mcbridge.write_arrow()` (Arrow IPC stream format), and Arrow IPC *file*
#' format (Feather v2) files holding mcbridge data. Everything in the file is
#' checked before it is converted: a file that is empty, truncated, not Arrow,
#' not an mcbridge array, of another format version, with nulls, of an
#' unsupported value type, or whose shape disagrees with its data gives an
#' error of class `mcbridge_error_arrow`.
#'
#' @param path The file.
#' @return An `mc_prediction` for MC results (with the stored class names,
#'   [mc_class_names()], if any), otherwise an R array (a vector
#'   for 1-d data) with the stored shape: `x[i, j, ...]` is Python's
#'   `x[i - 1, j - 1, ...]`.
#' @family Arrow
#' @examples
#' f <- tempfile(fileext = ".arrow")
#' mc_write_arrow(c(TRUE, FALSE), f)
#' mc_read_arrow(f)
#' @export
mc_read_arrow <- function(path) {
  path <- .check_path(path, exists = TRUE)
  size <- file.size(path)
  if (is.na(size) || size == 0) {
    .abort(sprintf("'%s' is empty, not an Arrow IPC file.", path), "arrow")
  }
  magic <- readBin(path, "raw", 6)
  src <- if (identical(magic, charToRaw("ARROW1"))) {
    # IPC file format: 8 bytes of magic + padding, then an IPC stream.
    readBin(path, "raw", size)[-(1:8)]
  } else {
    path
  }
  fail <- function(e) {
    if (inherits(e, "mcbridge_error")) stop(e)
    .abort(sprintf("'%s' is not a readable Arrow IPC file (%s).", path,
                   sub("\\s+$", "", conditionMessage(e))), "arrow")
  }
  tryCatch({
    stream <- nanoarrow::read_nanoarrow(src)
    on.exit(stream$release(), add = TRUE)
    mc_from_arrow(stream)
  }, error = fail)
}
