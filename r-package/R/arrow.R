# The Arrow wire format (see docs/ARROW.md in the repository; the Python side
# is mcbridge/arrow.py). One `values` column, column-major ("F") order, which
# is R's own order, so arrays cross with one pass and no transpose. Schema
# metadata: mcbridge:format, mcbridge:kind, mcbridge:shape,
# mcbridge:dim_names, mcbridge:order. Record batches hold blocks of rows.

.mc_dim_names <- c("n", "classes", "samples")

# ---- metadata -------------------------------------------------------------

.json_numbers <- function(x) {
  x <- ifelse(is.na(x), "null", format(x, scientific = FALSE, trim = TRUE))
  paste0("[", paste(x, collapse = ", "), "]")
}

.json_strings <- function(x) {
  paste0("[", paste0('"', gsub('(["\\\\])', "\\\\\\1", x), '"', collapse = ", "), "]")
}

.parse_json_numbers <- function(s) {
  body <- gsub("[][[:space:]]", "", s)
  if (!nzchar(body)) return(numeric(0))
  parts <- strsplit(body, ",", fixed = TRUE)[[1]]
  out <- suppressWarnings(as.numeric(parts))
  out[parts == "null"] <- NA
  if (anyNA(out[parts != "null"])) stop("Invalid mcbridge:shape metadata: ", s, call. = FALSE)
  out
}

.parse_json_strings <- function(s) {
  m <- regmatches(s, gregexpr('"((\\\\.)|[^"\\\\])*"', s))[[1]]
  gsub('\\\\(.)', "\\1", substr(m, 2, nchar(m) - 1))
}

.arrow_meta <- function(kind, shape, dim_names = NULL) {
  meta <- list(
    "mcbridge:format" = "1",
    "mcbridge:kind" = kind,
    "mcbridge:shape" = .json_numbers(shape),
    "mcbridge:order" = "F"
  )
  if (!is.null(dim_names)) meta[["mcbridge:dim_names"]] <- .json_strings(dim_names)
  meta
}

.read_meta <- function(schema) {
  meta <- schema$metadata
  get <- function(key) {
    v <- meta[[key]]
    if (is.null(v)) NULL else if (is.raw(v)) rawToChar(v) else as.character(v)
  }
  order <- get("mcbridge:order") %||% "F"
  if (!identical(order, "F")) stop("Unsupported mcbridge:order '", order, "'.", call. = FALSE)
  kind <- get("mcbridge:kind") %||% "array"
  if (!kind %in% c("mc_samples", "array")) stop("Unknown mcbridge:kind '", kind, "'.", call. = FALSE)
  shape <- get("mcbridge:shape")
  dn <- get("mcbridge:dim_names")
  list(kind = kind,
       shape = if (is.null(shape)) NULL else .parse_json_numbers(shape),
       dim_names = if (is.null(dn)) NULL else .parse_json_strings(dn))
}

# ---- R -> Arrow -------------------------------------------------------------

.payload <- function(x, arg = "x") {
  if (inherits(x, "mc_prediction")) {
    s <- x$all_samples
    return(list(values = s, shape = dim(s), kind = "mc_samples",
                type = nanoarrow::na_float(), dim_names = .mc_dim_names))
  }
  if (is.factor(x) || !(is.numeric(x) || is.logical(x))) {
    stop(sprintf("`%s` must be an mc_prediction or a numeric, integer or logical array, not %s.",
                 arg, .describe(x)), call. = FALSE)
  }
  if (anyNA(x)) stop(sprintf("`%s` must not contain NA values.", arg), call. = FALSE)
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

.to_arrow_batches <- function(x, rows_per_batch = NULL, type = NULL, kind = NULL) {
  p <- .payload(x)
  if (!is.null(type)) p$type <- type
  if (!is.null(kind)) {
    p$kind <- kind
    if (kind == "mc_samples") p$dim_names <- .mc_dim_names
  }
  meta <- .arrow_meta(p$kind, p$shape, p$dim_names)
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

# ---- Arrow -> R -------------------------------------------------------------

.ptype_for <- function(format) {
  switch(format,
         f = , g = , I = , l = , L = double(),
         c = , C = , s = , S = , i = integer(),
         b = logical(),
         stop("Unsupported Arrow type for mcbridge values: '", format, "'.", call. = FALSE))
}

# `batches`: list of struct nanoarrow_arrays (schema attached).
.from_arrow_batches <- function(schema, batches) {
  meta <- .read_meta(schema)
  if (length(schema$children) < 1) stop("mcbridge Arrow data needs a `values` column.", call. = FALSE)
  format <- schema$children[[1]]$format
  ptype <- .ptype_for(format)
  batches <- Filter(function(b) b$length > 0, batches)
  convert <- function(b) {
    child <- b$children[[1]]
    if (child$null_count != 0) stop("mcbridge Arrow data must not contain nulls.", call. = FALSE)
    # float32 (MC samples, the large case): src/convert.c, 4x faster here.
    if (format == "f") .Call(mcb_float32_to_double, child) else nanoarrow::convert_array(child, ptype)
  }
  # One batch (the in-memory case): convert straight into `out`. Going through
  # a list would leave a second reference, and `dim<-` would then copy.
  values <- if (length(batches) == 1) NULL else lapply(batches, convert)
  out <- if (length(batches) == 1) convert(batches[[1]]) else NULL
  total <- if (is.null(out)) sum(lengths(values)) else length(out)
  shape <- meta$shape %||% total
  tail_size <- prod(shape[-1])
  if (length(shape) >= 1 && is.na(shape[1])) {
    if (tail_size == 0 || total %% tail_size != 0) stop("Cannot infer the row count.", call. = FALSE)
    shape[1] <- total / tail_size
  }
  if (total != prod(shape)) {
    stop(sprintf("Arrow data holds %s values but the shape [%s] needs %s.",
                 total, paste(shape, collapse = ", "), prod(shape)), call. = FALSE)
  }
  if (length(batches) == 0) {
    out <- ptype[0]
  } else if (length(batches) > 1) {
    out <- matrix(ptype[0][NA], shape[1], tail_size)
    row <- 0
    for (v in values) {
      m <- length(v) / tail_size
      out[row + seq_len(m), ] <- v
      row <- row + m
    }
    values <- NULL
  }
  if (length(shape) >= 2) dim(out) <- shape else out <- as.vector(out)
  if (meta$kind == "mc_samples") {
    if (length(shape) != 3) stop("MC samples must be 3-d.", call. = FALSE)
    return(as_mc_prediction(out))
  }
  out
}

# ---- C data interface ---------------------------------------------------------

# Python object (MCResult / ndarray) -> R, zero-copy on the Python side.
.py_to_r <- function(obj, glue_fun = "to_r", ...) {
  array <- nanoarrow::nanoarrow_allocate_array()
  schema <- nanoarrow::nanoarrow_allocate_schema()
  .glue()[[glue_fun]](obj, nanoarrow::nanoarrow_pointer_addr_chr(array),
                      nanoarrow::nanoarrow_pointer_addr_chr(schema), ...)
  out <- .arrow_import_c(array, schema)
  nanoarrow::nanoarrow_pointer_release(array)
  out
}

# Filled ArrowArray / ArrowSchema (e.g. exported by Python) -> R object.
.arrow_import_c <- function(array, schema) {
  nanoarrow::nanoarrow_array_set_schema(array, schema)
  .from_arrow_batches(schema, list(array))
}

# R object -> freshly exported ArrowArray / ArrowSchema structs (the consumer
# takes ownership). Returns the structs and their addresses.
.arrow_export_c <- function(x, type = NULL) {
  batch <- .to_arrow_batches(x, type = type)[[1]]
  array <- nanoarrow::nanoarrow_allocate_array()
  schema <- nanoarrow::nanoarrow_allocate_schema()
  nanoarrow::nanoarrow_pointer_export(nanoarrow::infer_nanoarrow_schema(batch), schema)
  nanoarrow::nanoarrow_pointer_export(batch, array)
  list(array = array, schema = schema,
       array_addr = nanoarrow::nanoarrow_pointer_addr_chr(array),
       schema_addr = nanoarrow::nanoarrow_pointer_addr_chr(schema))
}

# R array -> C-ordered NumPy array in Python (a copy owned by Python).
.r_to_py <- function(x, type = nanoarrow::na_float()) {
  ex <- .arrow_export_c(x, type = type)
  .glue()$from_r(ex$array_addr, ex$schema_addr)
}

# ---- files ------------------------------------------------------------------

#' Write an MC prediction or array to an Arrow IPC file
#'
#' Writes the mcbridge Arrow format (an Arrow IPC stream; see `docs/ARROW.md`),
#' which Python's `mcbridge.read_arrow()`, `pyarrow.ipc.open_stream()`,
#' `nanoarrow::read_nanoarrow()` and `arrow::read_ipc_stream()` read. The file
#' is written to a temporary file first and then renamed, so an error never
#' leaves a partial file at `path`.
#'
#' @param x An `mc_prediction` (its `all_samples` are written as float32) or a
#'   numeric, integer or logical vector or array (written as float64, int32 or
#'   boolean).
#' @param path The file to write (conventionally `*.arrow`).
#' @param rows_per_batch Optional number of rows (first index) per record
#'   batch; by default one batch.
#' @return `path`, invisibly.
#' @examples
#' f <- tempfile(fileext = ".arrow")
#' write_mc_arrow(array(1:24, c(2, 3, 4)), f)
#' read_mc_arrow(f)[2, 3, 4]
#' @export
write_mc_arrow <- function(x, path, rows_per_batch = NULL) {
  if (!is.character(path) || length(path) != 1 || is.na(path)) {
    stop("`path` must be a single file path.", call. = FALSE)
  }
  if (!is.null(rows_per_batch)) rows_per_batch <- .check_count(rows_per_batch, "rows_per_batch")
  batches <- .to_arrow_batches(x, rows_per_batch = rows_per_batch)
  path <- path.expand(path)
  tmp <- tempfile(paste0(".", basename(path), "."), tmpdir = dirname(path), fileext = ".tmp")
  ok <- FALSE
  on.exit(if (!ok) unlink(tmp), add = TRUE)
  stream <- nanoarrow::basic_array_stream(batches, nanoarrow::infer_nanoarrow_schema(batches[[1]]))
  nanoarrow::write_nanoarrow(stream, tmp)
  if (!file.rename(tmp, path)) stop("Could not move the written file to '", path, "'.", call. = FALSE)
  ok <- TRUE
  invisible(path)
}

#' Read an mcbridge Arrow IPC file
#'
#' Reads files written by [write_mc_arrow()] or Python's
#' `mcbridge.write_arrow()` (Arrow IPC stream format) and also Arrow IPC
#' *file* format (Feather v2) files. Files without mcbridge metadata are read
#' as a vector of their first column.
#'
#' @param path The file.
#' @return An `mc_prediction` for MC results, otherwise an R array (a vector
#'   for 1-d data) with the stored shape: `x[i, j, ...]` is Python's
#'   `x[i - 1, j - 1, ...]`.
#' @examples
#' f <- tempfile(fileext = ".arrow")
#' write_mc_arrow(c(TRUE, FALSE), f)
#' read_mc_arrow(f)
#' @export
read_mc_arrow <- function(path) {
  if (!is.character(path) || length(path) != 1 || !file.exists(path)) {
    stop("`path` must be an existing file.", call. = FALSE)
  }
  path <- path.expand(path)
  magic <- readBin(path, "raw", 6)
  src <- if (identical(magic, charToRaw("ARROW1"))) {
    # IPC file format: 8 bytes of magic + padding, then an IPC stream.
    readBin(path, "raw", file.size(path))[-(1:8)]
  } else {
    path
  }
  stream <- nanoarrow::read_nanoarrow(src)
  on.exit(stream$release(), add = TRUE)
  schema <- stream$get_schema()
  batches <- list()
  while (!is.null(b <- stream$get_next())) batches[[length(batches) + 1]] <- b
  .from_arrow_batches(schema, batches)
}
