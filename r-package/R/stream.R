# Streaming prediction to a file (Python's mcbridge.predict_to_file; see
# docs/SCALING.md) and reading its Arrow IPC stream output back with
# nanoarrow, batch by batch.

.stream_ext <- function(path) tolower(sub("^.*(\\.[^./\\\\]*)$", "\\1", basename(path)))

#' Monte Carlo dropout prediction streamed to a file
#'
#' Runs [mc_predict()]'s engine block by block and writes one row of
#' summaries per input to a Parquet file or an Arrow IPC stream, so memory
#' does not grow with the number of inputs (Python's
#' `mcbridge.predict_to_file()`, whose arguments these are, with the same
#' names and defaults). The file appears only when the run finished: no file
#' is left at `path` on an error or interruption.
#'
#' The arguments are checked in R first; then R calls Python once. An R array
#' goes over through the Arrow C data interface as in [mc_predict()]; a `.npy`
#' file is memory-mapped by Python and read block by block (inputs larger
#' than R's memory). With a `seed`, input `i`'s samples are those
#' [mc_predict()] gives it (same masks, values equal up to float32 rounding),
#' and the file holds the same bits as Python's `predict_to_file()` on the same
#' inputs.
#'
#' Columns: `index` (the input's key, from 0), `prediction` (class code of the
#' highest mean, from 0), `mean` and `variance` (one float32 per class),
#' `predictive_entropy`, `mutual_information`, `variation_ratio` (nats) and,
#' with `keep_samples = TRUE`, `samples`. Read an `.arrow` output with
#' [mc_read_predictions()]; Parquet with the arrow package, DuckDB, pandas or
#' Spark.
#'
#' @inheritParams mc_predict
#' @param x Inputs: an array as for [mc_predict()], or the path of a `.npy`
#'   file holding `(n, height, width, channels)` (or `(n, features)`) inputs
#'   in Python's layout.
#' @param path The output file, ending in `.parquet` or `.arrow` (an Arrow IPC
#'   stream). Its folder must exist; an existing file is replaced.
#' @param keep_samples Also write each input's `classes x n_samples` samples.
#' @param progress Show a progress bar (updated once per written block).
#' @return `path`, invisibly.
#' @family prediction
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' f <- tempfile(fileext = ".arrow")
#' mc_predict_to_file(model, d$test$x[1:20, , ] / 16, f, n_samples = 10, seed = 1)
#' head(mc_read_predictions(f)$mutual_information)
#' @export
mc_predict_to_file <- function(model, x, path, n_samples = 50, batch_size = 128, seed = NULL,
                               keep_samples = FALSE, memory_budget = 256 * 2^20,
                               precision = "float32", tolerance = NULL, min_samples = 10,
                               class_margin = NULL, progress = interactive()) {
  .check_model(model)
  path <- .check_path(path)
  if (!.stream_ext(path) %in% c(".parquet", ".arrow")) {
    .abort(sprintf("`path` must end in .parquet or .arrow, not '%s'.", basename(path)), "input",
           arg = "path")
  }
  if (!dir.exists(dirname(path))) {
    .abort(sprintf("Cannot write '%s': the folder '%s' does not exist.", path, dirname(path)), "io",
           arg = "path")
  }
  n_samples <- .check_count(n_samples, "n_samples")
  batch_size <- .check_count(batch_size, "batch_size")
  seed <- .check_seed(seed)
  keep_samples <- .check_flag(keep_samples, "keep_samples")
  memory_budget <- .check_bytes(memory_budget, "memory_budget")
  precision <- .check_string(precision, "precision", c("float32", "bfloat16"))
  min_samples <- .check_adaptive(tolerance, class_margin, min_samples, n_samples)
  progress <- .check_flag(progress, "progress")
  if (is.character(x)) {
    x_arg <- .check_path(x, "x", exists = TRUE)
    if (.stream_ext(x_arg) != ".npy") {
      .abort(sprintf("`x` must be an array or the path of a .npy file, not '%s'.", basename(x_arg)),
             "input", arg = "x")
    }
    x_arg <- normalizePath(x_arg)
  } else {
    x <- .check_x(x)
    input <- .arrow_export_c(x, type = nanoarrow::na_float())
    x_arg <- input$addr
  }
  report <- FALSE
  if (progress) {
    bar <- .progress_bar("MC dropout to file")
    on.exit(bar$finish(), add = TRUE)
    report <- bar$update
  }
  .bridge_call("predict_to_file", model, x_arg, path, n_samples, batch_size, seed, keep_samples,
               memory_budget, precision, report,
               if (is.null(tolerance)) NULL else as.numeric(tolerance), min_samples,
               if (is.null(class_margin)) NULL else as.numeric(class_margin))
  invisible(path)
}

# Arrow formats of the predict_to_file columns (docs/SCALING.md).
.pred_scalar_cols <- c(index = "l", prediction = "i", predictive_entropy = "f",
                       mutual_information = "f", variation_ratio = "f")

.float_values <- function(child) {
  if (identical(child$format, "f")) .Call(mcb_float32_to_double, child)
  else nanoarrow::convert_array(child, double())
}

# The `rows * width` values of fixed-size list column `col` (parent offset applied).
.list_values <- function(col, width) {
  if (length(col$children) != 1) .abort("A fixed-size list column has no values.", "arrow")
  child <- col$children[[1]]
  .check_no_nulls(child)
  v <- .float_values(child)
  want <- (col$offset + col$length) * width
  if (length(v) < want) {
    .abort("A fixed-size list column holds fewer values than its rows need.", "arrow")
  }
  v[col$offset * width + seq_len(col$length * width)]
}

#' Read predictions streamed to an Arrow file
#'
#' Reads the `.arrow` output of [mc_predict_to_file()] or Python's
#' `mcbridge.predict_to_file()` (an Arrow IPC stream) with nanoarrow, one
#' record batch at a time, into a data.frame (an Arrow IPC *file* with the
#' same columns is read too, whole). Parquet output needs the arrow
#' package (`arrow::read_parquet()`); write `.arrow` to read it here.
#'
#' @param path The file.
#' @return A data.frame with one row per input: `index` (the input's key,
#'   from 0), `prediction` (class code, from 0), `mean` and `variance`
#'   (matrix columns `n x classes`), `predictive_entropy`,
#'   `mutual_information` and `variation_ratio`; `n_used` (samples each input
#'   got) when written with `tolerance` or `class_margin`. Attributes
#'   `n_samples`, `seed` (`NULL` when none was given) and, when the file holds them,
#'   `samples` (an array `c(n, classes, samples)`, as [mc_predict()]'s
#'   `all_samples`).
#' @family prediction
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' model <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8,
#'                 dropout = c(0.25, 0.5))
#' f <- tempfile(fileext = ".arrow")
#' mc_predict_to_file(model, d$test$x[1:20, , ] / 16, f, n_samples = 10, seed = 1)
#' preds <- mc_read_predictions(f)
#' preds[order(-preds$mutual_information)[1:3], c("index", "prediction")]
#' @export
mc_read_predictions <- function(path) {
  path <- .check_path(path, exists = TRUE)
  if (.stream_ext(path) == ".parquet") {
    .abort(sprintf(paste0("'%s' is Parquet, which R reads with the arrow package ",
                          "(arrow::read_parquet()); write the predictions to a .arrow file ",
                          "instead to read them with mc_read_predictions()."), path), "arrow")
  }
  size <- file.size(path)
  if (is.na(size) || size == 0) {
    .abort(sprintf("'%s' is empty, not an Arrow IPC stream.", path), "arrow")
  }
  # An IPC *file* (what predict_to_file wrote before it wrote streams): the
  # stream after its 8 bytes of magic and padding (read whole, not per batch).
  src <- if (identical(readBin(path, "raw", 6), charToRaw("ARROW1"))) readBin(path, "raw", size)[-(1:8)] else path
  fail <- function(e) {
    if (inherits(e, "mcbridge_error")) stop(e)
    .abort(sprintf("'%s' is not a readable Arrow IPC stream (%s).", path,
                   sub("\\s+$", "", conditionMessage(e))), "arrow")
  }
  tryCatch({
    stream <- nanoarrow::read_nanoarrow(src)
    on.exit(stream$release(), add = TRUE)
    .read_prediction_stream(stream, path)
  }, error = fail)
}

.read_prediction_stream <- function(stream, path) {
  schema <- stream$get_schema()
  meta <- schema$metadata
  get <- function(key) {
    v <- meta[[key]]
    if (is.null(v)) NULL else if (is.raw(v)) rawToChar(v[v != as.raw(0)]) else as.character(v)
  }
  not_ours <- function(why) {
    .abort(sprintf(paste0("'%s' is not an mcbridge predictions file (%s); it is written by ",
                          "mc_predict_to_file() or mcbridge.predict_to_file()."), path, why),
           "arrow")
  }
  classes <- suppressWarnings(as.integer(get("mcbridge.classes") %||% NA))
  n_samples <- suppressWarnings(as.integer(get("mcbridge.n_samples") %||% NA))
  if (is.na(classes) || is.na(n_samples) || classes < 1 || n_samples < 1) {
    not_ours("no valid mcbridge.classes / mcbridge.n_samples metadata")
  }
  formats <- vapply(schema$children, function(ch) ch$format, "")
  lists <- c(mean = sprintf("+w:%d", classes), variance = sprintf("+w:%d", classes))
  want <- c(.pred_scalar_cols, lists)
  missing <- setdiff(names(want), names(formats))
  if (length(missing) > 0) not_ours(paste("no column", paste0("`", missing, "`", collapse = ", ")))
  bad <- names(want)[formats[names(want)] != want]
  if (length(bad) > 0) not_ours(paste("unexpected Arrow type of", paste0("`", bad, "`", collapse = ", ")))
  has_samples <- "samples" %in% names(formats)
  if (has_samples && !identical(formats[["samples"]], sprintf("+w:%d", classes))) {
    not_ours("unexpected Arrow type of `samples`")
  }
  parts <- list()
  while (!is.null(b <- stream$get_next())) {
    if (b$length == 0) next
    cols <- b$children
    for (nm in names(.pred_scalar_cols)) .check_no_nulls(cols[[nm]])
    part <- list(
      index = nanoarrow::convert_array(cols$index, double()),
      prediction = nanoarrow::convert_array(cols$prediction, integer()),
      mean = matrix(.list_values(cols$mean, classes), ncol = classes, byrow = TRUE),
      variance = matrix(.list_values(cols$variance, classes), ncol = classes, byrow = TRUE)
    )
    for (nm in c("predictive_entropy", "mutual_information", "variation_ratio")) {
      part[[nm]] <- .float_values(cols[[nm]])
    }
    if (!is.null(cols$n_used)) part$n_used <- nanoarrow::convert_array(cols$n_used, integer())
    if (has_samples) {
      s <- cols$samples
      inner <- s$children[[1]]
      # per row: classes lists of n_samples values (class-major)
      v <- .list_values(list(children = inner$children, offset = inner$offset + s$offset * classes,
                             length = s$length * classes), n_samples)
      part$samples <- aperm(array(v, c(n_samples, classes, b$length)), c(3, 2, 1))
    }
    parts[[length(parts) + 1]] <- part
  }
  if (length(parts) == 0) not_ours("no rows")
  bind <- function(nm) {
    pieces <- lapply(parts, `[[`, nm)
    if (is.matrix(pieces[[1]])) do.call(rbind, pieces) else unlist(pieces, use.names = FALSE)
  }
  out <- data.frame(index = bind("index"), prediction = bind("prediction"))
  out$mean <- bind("mean")
  out$variance <- bind("variance")
  for (nm in c("predictive_entropy", "mutual_information", "variation_ratio")) out[[nm]] <- bind(nm)
  if (!is.null(parts[[1]]$n_used)) out$n_used <- bind("n_used")   # adaptive sampling
  attr(out, "n_samples") <- n_samples
  seed <- get("mcbridge.seed")
  attr(out, "seed") <- if (is.null(seed) || !nzchar(seed)) NULL else as.numeric(seed)
  if (has_samples) {
    samples <- array(0, c(nrow(out), classes, n_samples))
    row <- 0
    for (p in parts) {
      m <- dim(p$samples)[1]
      samples[row + seq_len(m), , ] <- p$samples
      row <- row + m
    }
    attr(out, "samples") <- samples
  }
  out
}
