# A folder of its own holding x.arrow (1:3): the old file a failed write keeps.
local_old_file <- function(.local_envir = parent.frame()) {
  f <- file.path(withr::local_tempdir(.local_envir = .local_envir), "x.arrow")
  mc_write_arrow(1:3, f)
  f
}

# The old file is unchanged and alone in its folder (no temporary file left).
expect_old_file_kept <- function(f) {
  expect_identical(mc_read_arrow(f), 1:3)
  expect_identical(list.files(dirname(f), all.files = TRUE, no.. = TRUE), "x.arrow")
}

test_that("bad data is refused before anything is written", {
  f <- local_old_file()
  expect_mcb_error(mc_write_arrow(c(1, NA), f), "input", "must not contain NA values \\(found 1\\)")
  expect_mcb_error(mc_write_arrow("a", f), "input", "numeric, integer or logical array")
  expect_mcb_error(mc_write_arrow(data.frame(a = 1), f), "input", "not a data.frame")
  expect_mcb_error(mc_write_arrow(1:3, c(f, f)), "input", "single file path")
  expect_mcb_error(mc_write_arrow(1:3, f, rows_per_batch = 0), "argument", "rows_per_batch")
  expect_old_file_kept(f)
})

test_that("a missing directory is an mcbridge_error_io", {
  f <- file.path(withr::local_tempdir(), "missing", "x.arrow")
  expect_mcb_error(mc_write_arrow(1:3, f), "io", "the directory .* does not exist; create it first")
  expect_false(file.exists(f))
})

test_that("a read-only directory keeps the old file and leaves no temporary file", {
  skip_on_os("windows")
  f <- local_old_file()
  dir <- dirname(f)
  Sys.chmod(dir, "0555")
  withr::defer(Sys.chmod(dir, "0755"))
  if (file.access(dir, 2) == 0) skip("running as a user who can write anywhere (root)")
  expect_mcb_error(mc_write_arrow(4:6, f), "io", "Cannot write .* The old file, if any, is unchanged")
  expect_old_file_kept(f)
})

test_that("a directory that cannot hold files is an mcbridge_error_io", {
  skip_if_not(dir.exists("/proc"), "no /proc")
  open_before <- length(getAllConnections())
  expect_mcb_error(mc_write_arrow(1:3, "/proc/x.arrow"), "io", "Cannot write '/proc/x.arrow'")
  expect_false(any(grepl("x\\.arrow", list.files("/proc", all.files = TRUE))))
  expect_identical(length(getAllConnections()), open_before)  # no connection left behind
})

test_that("an error in the middle of a write keeps the old file and leaves no temporary file", {
  f <- local_old_file()
  # The writer fails after it has written part of the data.
  trace("write_nanoarrow", where = asNamespace("nanoarrow"), print = FALSE,
        exit = quote(stop("disk full")))
  withr::defer(untrace("write_nanoarrow", where = asNamespace("nanoarrow")))
  expect_mcb_error(mc_write_arrow(index_array(), f), "io", "disk full")
  expect_old_file_kept(f)
})

test_that("mc_to_arrow() and mc_from_arrow() round-trip in memory", {
  res <- as_mc_prediction(index_array() / 1000)
  a <- mc_to_arrow(res)
  expect_s3_class(a, "nanoarrow_array")
  expect_identical(nanoarrow::infer_nanoarrow_schema(a)$metadata[["mcbridge:kind"]], "mc_samples")
  back <- mc_from_arrow(a)
  expect_identical(back$all_samples, array(as.double(as_f32_vec(index_array() / 1000)), c(4, 3, 5)))
  expect_identical(mc_from_arrow(mc_to_arrow(array(1:6, c(2, 3)))), array(1:6, c(2, 3)))
  expect_mcb_error(mc_from_arrow(1:3), "input", "nanoarrow_array")
})
