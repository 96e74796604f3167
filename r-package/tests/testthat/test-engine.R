test_that("mcbridge_python() honours MCBRIDGE_PYTHON, then RETICULATE_PYTHON, and fails clearly", {
  withr::local_envvar(MCBRIDGE_PYTHON = "/nonexistent/python", RETICULATE_PYTHON = NA)
  expect_mcb_error(mcbridge_python(), "python", "MCBRIDGE_PYTHON points to '/nonexistent/python'")
  py <- file.path(withr::local_tempdir(), "python")
  file.create(py)
  withr::local_envvar(MCBRIDGE_PYTHON = py)
  expect_identical(attr(mcbridge_python(), "source"), "MCBRIDGE_PYTHON")
  withr::local_envvar(MCBRIDGE_PYTHON = NA, RETICULATE_PYTHON = py)
  expect_identical(attr(mcbridge_python(), "source"), "RETICULATE_PYTHON")
})

test_that("mcbridge_python() finds a .venv with mcbridge above the working directory", {
  root <- withr::local_tempdir()
  dir.create(file.path(root, ".venv", "bin"), recursive = TRUE)
  dir.create(file.path(root, ".venv", "lib", "python3.11", "site-packages", "mcbridge"),
             recursive = TRUE)
  file.create(file.path(root, ".venv", "bin", "python"))
  dir.create(file.path(root, "a", "b"), recursive = TRUE)
  withr::local_dir(file.path(root, "a", "b"))
  withr::local_envvar(MCBRIDGE_PYTHON = NA, RETICULATE_PYTHON = NA)
  py <- mcbridge_python()
  expect_identical(attr(py, "source"), "project virtualenv")
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
  expect_identical(names(formals(install_mcbridge))[1], "envname")  # keras3's install_keras() habit
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

test_that("after library(mcbridge), reticulate::import(\"keras\") starts mcbridge's Python", {
  skip_if_no_engine()
  # A project folder with a Poetry pyproject.toml: reticulate < 1.41 would
  # look at it (and warn) before an unset use_python().
  dir <- withr::local_tempdir()
  writeLines(c("[tool.poetry]", "name = \"x\""), file.path(dir, "pyproject.toml"))
  script <- mcbridge_script(dir,
    "stopifnot(!reticulate::py_available(initialize = FALSE))  # loading started nothing",
    "keras <- reticulate::import('keras', convert = FALSE)     # the user's first call",
    "m <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dropout(0.5),",
    "                           keras$layers$Dense(3L, activation = 'softmax')))",
    "res <- mc_predict(m, matrix(0.5, 2, 4), n_samples = 3, seed = 1)",
    "cat('python:', reticulate::py_config()$python, '\\n')",
    "cat('dims:', dim(res$all_samples), '\\n')"
  )
  withr::local_dir(dir)
  withr::local_envvar(RETICULATE_PYTHON = NA)
  out <- run_rscript(script)
  info <- paste(out, collapse = "\n")
  expect_true("dims: 2 3 3 " %in% out, info = info)
  expect_true(any(grepl(paste0("python: ", engine_python()), out, fixed = TRUE)), info = info)
  expect_false(any(grepl("Poetry|ModuleNotFoundError", out)), info = info)
})

# The next two read the console of one fresh R session where mcbridge starts
# Python (fresh_session() in helper-mcbridge.R; test-train.R reads it too): a
# folder named mcbridge in its working directory, TF_CPP_MIN_LOG_LEVEL unset.

test_that("a directory named mcbridge in the working directory does not shadow the engine", {
  out <- fresh_session()
  expect_true("classes: 10 " %in% out, info = paste(out, collapse = "\n"))
})

test_that("TensorFlow's C++ log stays out of the console when TF_CPP_MIN_LOG_LEVEL is unset", {
  # mcbridge imports TensorFlow for the user, who has not set the variable.
  out <- fresh_session()
  tf_log <- paste(c(
    "^[IWEF][0-9]{4} [0-9:.]+ ",                      # absl: I0000 00:00:1712345678.123 ...
    "^[0-9-]+ [0-9:.]+: [IWEF] (tensorflow|external)/",  # 2024-05-01 12:00:00.12: I tensorflow/...
    "cpu_feature_guard", "rebuild TensorFlow with the appropriate compiler flags",
    "XLA service", "StreamExecutor", "Compiled cluster using XLA",
    "oneDNN custom operations", "absl::InitializeLog"), collapse = "|")
  expect_true("done" %in% out, info = paste(out, collapse = "\n"))
  noise <- grep(tf_log, out, value = TRUE)
  expect(length(noise) == 0,
         sprintf("TensorFlow's C++ log reached the console:\n%s", paste(noise, collapse = "\n")))
})

# Python started before library(mcbridge): by reticulate::import("keras") with
# a Python that has mcbridge, or by py_config() with one that has not (a bare
# virtualenv made here). One fresh Rscript each.

test_that("reticulate::import(\"keras\") before library(mcbridge): loading and the first call work", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  script <- file.path(dir, "run.R")
  writeLines(c(
    "keras <- reticulate::import('keras', convert = FALSE)   # Python starts here",
    "library(mcbridge)",
    "m <- keras$Sequential(list(keras$Input(shape = list(4L)), keras$layers$Dropout(0.5),",
    "                           keras$layers$Dense(3L, activation = 'softmax')))",
    "res <- mc_predict(m, matrix(0.5, 2, 4), n_samples = 3, seed = 1)",
    "cat('dims:', dim(res$all_samples), '\\n')"), script)
  withr::local_dir(dir)
  withr::local_envvar(RETICULATE_PYTHON = engine_python())
  out <- run_rscript(script)
  expect_true("dims: 2 3 3 " %in% out, info = paste(out, collapse = "\n"))
})

test_that("py_config() with a Python without mcbridge: loading works, the first call says how to fix it", {
  skip_if_no_engine()
  dir <- withr::local_tempdir()
  bare <- file.path(dir, "bare")
  withr::with_envvar(c(PYTHONHOME = NA, PYTHONPATH = NA),
                     system2(engine_python(), c("-m", "venv", "--without-pip", bare)))
  bare_py <- file.path(bare, "bin", "python")
  expect_true(file.exists(bare_py))
  script <- file.path(dir, "run.R")
  writeLines(c(
    "cat('running:', reticulate::py_config()$python, '\\n')   # Python starts here",
    "library(mcbridge)",
    "cat('loaded\\n')",
    "e <- tryCatch(mc_cnn(), error = identity)",
    "cat('class:', class(e), '\\n')",
    "cat(conditionMessage(e), '\\n')"), script)
  withr::local_dir(dir)
  withr::local_envvar(RETICULATE_PYTHON = bare_py)
  out <- run_rscript(script)
  info <- paste(out, collapse = "\n")
  expect_true("loaded" %in% out, info = info)
  expect_true(any(grepl("class: mcbridge_error_python mcbridge_error error condition", out, fixed = TRUE)),
              info = info)
  # which Python runs, how to install mcbridge into it, how to choose another
  expect_match(info, sprintf("the Python running in this R session is %s", bare_py), fixed = TRUE)
  expect_match(info, sprintf("'%s' -m pip install -e", bare_py), fixed = TRUE)
  expect_match(info, sprintf("Sys.setenv(MCBRIDGE_PYTHON = \"%s\")", engine_python()), fixed = TRUE)
  expect_match(info, "before anything starts Python", fixed = TRUE)
})
