# Writing the mcbridge Arrow format (see arrow-read.R) in memory and to files.

.arrow_meta <- function(kind, shape, dim_names = NULL, class_names = NULL) {
  meta <- list(
    "mcbridge:format" = .mc_format,
    "mcbridge:kind" = kind,
    "mcbridge:shape" = paste0("[", paste(format(shape, scientific = FALSE, trim = TRUE), collapse = ", "), "]"),
    "mcbridge:order" = "F"
  )
  if (!is.null(dim_names)) {
    quoted <- vapply(dim_names, function(d) as.character(jsonlite::toJSON(d, auto_unbox = TRUE)), "")
    meta[["mcbridge:dim_names"]] <- paste0("[", paste(quoted, collapse = ", "), "]")
  }
  if (!is.null(class_names)) {
    # A JSON list of strings, one per class (axis 1); I() keeps one name a list.
    meta[["mcbridge:class_names"]] <- as.character(jsonlite::toJSON(I(as.character(class_names))))
  }
  meta
}

.payload <- function(x, arg = "x") {
  if (inherits(x, "mc_prediction")) {
    s <- x$all_samples
    if (length(dim(s)) != 3 || !is.null(x$n_used)) {
      what <- if (!is.null(x$n_used)) "an adaptive result (samples padded with NaN after `n_used`)" else
        sprintf("a dense output (dim c(%s))", paste(dim(s), collapse = ", "))
      .abort(sprintf(paste0("`%s` is %s; the Arrow format for MC samples is c(n, classes, samples) ",
                            "with every sample. Write an array instead, e.g. %s$all_samples or %s$mean."),
                     arg, what, arg, arg), "input", arg = arg)
    }
    return(list(values = s, shape = dim(s), kind = "mc_samples",
                type = nanoarrow::na_float(), dim_names = .mc_dim_names,
                class_names = mc_class_names(x)))
  }
  if (is.data.frame(x) || is.factor(x) || !(is.numeric(x) || is.logical(x))) {
    .abort(sprintf("`%s` must be an mc_prediction or a numeric, integer or logical array, not %s.",
                   arg, .describe(x)), "input", arg = arg)
  }
  if (anyNA(x)) {
    .abort(sprintf("`%s` must not contain NA values (found %d); Arrow files from mcbridge hold no nulls.",
                   arg, sum(is.na(x))), "input", arg = arg)
  }
  shape <- dim(x) %||% length(x)
  type <- if (is.logical(x)) nanoarrow::na_bool()
          else if (is.integer(x)) nanoarrow::na_int32()
          else nanoarrow::na_double()
  list(values = x, shape = shape, kind = "array", type = type, dim_names = NULL)
}

# A struct array with one `values` child and the mcbridge schema metadata.
.arrow_batch <- function(values, type, meta) {
  child <- nanoarrow::as_nanoarrow_array(as.vector(values), schema = type)
  schema <- nanoarrow::nanoarrow_schema_modify(
    nanoarrow::na_struct(list(values = type)), list(metadata = meta)
  )
  batch <- nanoarrow::nanoarrow_array_init(schema)
  nanoarrow::nanoarrow_array_modify(
    batch, list(length = length(values), children = list(values = child))
  )
}

.to_arrow_batches <- function(p, rows_per_batch = NULL) {
  meta <- .arrow_meta(p$kind, p$shape, p$dim_names, p$class_names)
  n <- p$shape[1]
  if (is.null(rows_per_batch) || length(p$shape) < 2 || rows_per_batch >= n) {
    return(list(.arrow_batch(p$values, p$type, meta)))
  }
  # Batch k holds a block of rows, flattened column-major.
  m <- matrix(p$values, n, prod(p$shape[-1]))
  starts <- seq(1, n, by = rows_per_batch)
  lapply(starts, function(i) {
    rows <- i:min(i + rows_per_batch - 1, n)
    .arrow_batch(as.vector(m[rows, , drop = FALSE]), p$type, meta)
  })
}

#' Convert an MC prediction or array to mcbridge Arrow data
#'
#' The in-memory counterpart of [mc_write_arrow()]: a `nanoarrow_array` (a
#' record batch with one `values` column and the mcbridge schema metadata)
#' that Python's `mcbridge.arrow.from_arrow()` and `mcbridge.r` read through
#' the Arrow C data interface.
#'
#' @param x An `mc_prediction` (its samples become float32, its
#'   [mc_class_names()], if set, the metadata `mcbridge:class_names`) or a
#'   numeric, integer or logical vector or array (float64, int32 or boolean).
#' @return A `nanoarrow_array`.
#' @family Arrow
#' @examples
#' a <- mc_to_arrow(array(1:6, c(2, 3)))
#' a$length
#' @export
mc_to_arrow <- function(x) {
  .to_arrow_batches(.payload(x))[[1]]
}

# R object -> freshly exported ArrowArray / ArrowSchema structs (the consumer
# takes ownership); `type` overrides the value type (e.g. float32 inputs).
.arrow_export_c <- function(x, type = NULL) {
  # nanoarrow 0.6 converts integers to float only with the arrow package:
  # widen them to doubles here (exact for the values images hold).
  if (!is.null(type) && identical(type$format, "f") && (is.integer(x) || is.logical(x))) {
    storage.mode(x) <- "double"
  }
  p <- .payload(x)
  if (!is.null(type)) p$type <- type
  batch <- .to_arrow_batches(p)[[1]]
  array <- nanoarrow::nanoarrow_allocate_array()
  schema <- nanoarrow::nanoarrow_allocate_schema()
  nanoarrow::nanoarrow_pointer_export(nanoarrow::infer_nanoarrow_schema(batch), schema)
  nanoarrow::nanoarrow_pointer_export(batch, array)
  list(array = array, schema = schema,
       addr = list(nanoarrow::nanoarrow_pointer_addr_chr(array),
                   nanoarrow::nanoarrow_pointer_addr_chr(schema)))
}

# Empty structs for Python to fill.
.arrow_alloc_c <- function() {
  array <- nanoarrow::nanoarrow_allocate_array()
  schema <- nanoarrow::nanoarrow_allocate_schema()
  list(array = array, schema = schema,
       addr = list(nanoarrow::nanoarrow_pointer_addr_chr(array),
                   nanoarrow::nanoarrow_pointer_addr_chr(schema)))
}

#' Write an MC prediction or array to an Arrow IPC file
#'
#' Writes the mcbridge Arrow format (an Arrow IPC stream; see `docs/ARROW.md`),
#' which Python's `mcbridge.read_arrow()`, `pyarrow.ipc.open_stream()`,
#' `nanoarrow::read_nanoarrow()` and `arrow::read_ipc_stream()` read. The data
#' go to a temporary file in the same directory, which replaces `path` only
#' when complete: a failed write (an error, a full disk, an interrupt) keeps
#' the old file and leaves no temporary file.
#'
#' @param x An `mc_prediction` (its `all_samples` are written as float32,
#'   its [mc_class_names()], if set, as the metadata `mcbridge:class_names`)
#'   or a numeric, integer or logical vector or array (written as float64,
#'   int32 or boolean).
#' @param path The file to write (conventionally `*.arrow`).
#' @param rows_per_batch Optional number of rows (first index) per record
#'   batch; by default one batch.
#' @return `path`, invisibly.
#' @family Arrow
#' @examples
#' f <- tempfile(fileext = ".arrow")
#' mc_write_arrow(array(1:24, c(2, 3, 4)), f)
#' mc_read_arrow(f)[2, 3, 4]
#' @export
mc_write_arrow <- function(x, path, rows_per_batch = NULL) {
  path <- .check_path(path)
  if (!is.null(rows_per_batch)) rows_per_batch <- .check_count(rows_per_batch, "rows_per_batch")
  p <- .payload(x)
  dir <- dirname(path)
  if (!dir.exists(dir)) {
    .abort(sprintf("Cannot write '%s': the directory '%s' does not exist; create it first.",
                   path, dir), "io", path = path)
  }
  if (dir.exists(path)) .abort(sprintf("Cannot write '%s': it is a directory.", path), "io", path = path)
  batches <- .to_arrow_batches(p, rows_per_batch = rows_per_batch)
  tmp <- tempfile(paste0(".", basename(path), "."), tmpdir = dir, fileext = ".tmp")
  ok <- FALSE
  on.exit(if (!ok) unlink(tmp), add = TRUE)
  # Any error or warning while writing (a full disk, no permission) aborts.
  fail <- function(e) {
    .abort(sprintf("Cannot write '%s': %s. The old file, if any, is unchanged.",
                   path, sub("\\s+$", "", conditionMessage(e))), "io", path = path)
  }
  tryCatch({
    stream <- nanoarrow::basic_array_stream(batches, nanoarrow::infer_nanoarrow_schema(batches[[1]]))
    # Created unopened, then opened, so a failed open is closed too: a
    # warning turned error inside file(tmp, "wb") would leave it unreachable.
    con <- file(tmp)
    tryCatch({
      open(con, "wb")
      nanoarrow::write_nanoarrow(stream, con)
    }, finally = close(con))
    if (!suppressWarnings(file.rename(tmp, path))) stop("the written file could not be moved into place")
  }, error = function(e) fail(e), warning = function(w) fail(w))
  ok <- TRUE
  invisible(path)
}
