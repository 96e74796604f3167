test_that("old names still work, with a deprecation warning naming the new one", {
  f <- withr::local_tempfile(fileext = ".arrow")
  expect_warning(write_mc_arrow(1:3, f), "mc_write_arrow")
  expect_warning(x <- read_mc_arrow(f), "mc_read_arrow")
  expect_identical(x, 1:3)
  expect_warning(expect_mcb_error(set_mc_dropout(list(), TRUE), "model"), "mc_set_dropout")
})
