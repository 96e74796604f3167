test_that("mcbridge_python() honours MCBRIDGE_PYTHON and fails clearly on a bad path", {
  withr::local_options(mcbridge.python = NULL)
  withr::local_envvar(MCBRIDGE_PYTHON = "/nonexistent/python", RETICULATE_PYTHON = NA)
  expect_error(mcbridge_python(), "MCBRIDGE_PYTHON points to '/nonexistent/python'")
  py <- file.path(withr::local_tempdir(), "python")
  file.create(py)
  withr::local_envvar(MCBRIDGE_PYTHON = py)
  expect_identical(attr(mcbridge_python(), "source"), "MCBRIDGE_PYTHON")
  withr::local_options(mcbridge.python = py)
  expect_identical(attr(mcbridge_python(), "source"), "option mcbridge.python")
})

test_that("mcbridge_python() finds a .venv with mcbridge above the working directory", {
  root <- withr::local_tempdir()
  dir.create(file.path(root, ".venv", "bin"), recursive = TRUE)
  dir.create(file.path(root, ".venv", "lib", "python3.11", "site-packages", "mcbridge"),
             recursive = TRUE)
  file.create(file.path(root, ".venv", "bin", "python"))
  dir.create(file.path(root, "a", "b"), recursive = TRUE)
  withr::local_dir(file.path(root, "a", "b"))
  withr::local_options(mcbridge.python = NULL)
  withr::local_envvar(MCBRIDGE_PYTHON = NA, RETICULATE_PYTHON = NA)
  py <- mcbridge_python()
  expect_identical(attr(py, "source"), "working directory")
  expect_identical(normalizePath(dirname(dirname(py))), normalizePath(file.path(root, ".venv")))
})

test_that("the missing-engine message says exactly what to run", {
  msg <- mcbridge:::.python_missing_message(simpleError("No module named 'mcbridge'"))
  expect_match(msg, "mcbridge::install_mcbridge()", fixed = TRUE)
  expect_match(msg, "scripts/setup.sh", fixed = TRUE)
  expect_match(msg, "MCBRIDGE_PYTHON")
})

test_that("install_mcbridge() plans a venv with mcbridge and TensorFlow", {
  cmds <- install_mcbridge(envname = file.path(tempdir(), "env"), package = "mcbridge",
                           python = "python3", dry_run = TRUE)
  expect_length(cmds, 3)
  expect_match(cmds[1], "-m.*venv")
  expect_match(cmds[3], "mcbridge[cpu]", fixed = TRUE)
  expect_match(install_mcbridge(package = "x", flavour = "gpu", python = "python3",
                                dry_run = TRUE)[3], "x[gpu]", fixed = TRUE)
})

test_that("the engine loads and is the mcbridge package", {
  skip_if_no_engine()
  expect_true(mcbridge_available())
  name <- reticulate::py_to_r(mcbridge:::.mcb()$`__name__`)
  expect_identical(name, "mcbridge")
})

test_that("a directory named mcbridge in the working directory does not shadow the engine", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  dir.create(file.path(dir, "mcbridge"))   # e.g. an R library holding this package
  script <- file.path(dir, "run.R")
  writeLines(c("library(mcbridge)",
               "m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5))",
               "cat('classes:', mc_predict(m, array(0.5, c(2, 8, 8)), n_samples = 2)$mean |> ncol(), '\\n')"),
             script)
  withr::local_dir(dir)
  withr::local_envvar(MCBRIDGE_PYTHON = engine_python(), PYTHONHOME = NA, PYTHONPATH = NA,
                      TF_CPP_MIN_LOG_LEVEL = "3")
  out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), script, stdout = TRUE, stderr = TRUE))
  expect_null(attr(out, "status"))
  expect_true(any(grepl("classes: 10", out, fixed = TRUE)), info = paste(out, collapse = "\n"))
})
