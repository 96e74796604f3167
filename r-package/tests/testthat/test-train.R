test_that("mc_fit(), mc_train_on_batch() and mc_evaluate() return R values", {
  skip_if_no_engine()
  d <- digits()
  m <- digits_cnn(seed = 2)   # a model of its own: this test trains it
  h <- mc_fit(m, d$train$x / 16, d$train$y, epochs = 2, batch_size = 64,
              validation_split = 0.1, verbose = 0)
  expect_s3_class(h, "data.frame")
  expect_identical(nrow(h), 2L)
  expect_true(all(c("epoch", "loss", "accuracy", "val_loss", "val_accuracy") %in% names(h)))
  # the seed's custom loop over mini-batches
  losses <- c()
  for (b in 1:3) {
    idx <- ((b - 1) * 32 + 1):(b * 32)
    out <- mc_train_on_batch(m, d$train$x[idx, , ] / 16, factor(d$train$y[idx], levels = 0:9))
    losses <- c(losses, out[[1]])
  }
  expect_identical(names(out), c("loss", "accuracy"))
  expect_true(all(is.finite(losses)))
  e <- mc_evaluate(m, d$test$x / 16, d$test$y)
  expect_true(is.numeric(e) && all(c("loss", "accuracy") %in% names(e)))
  # 4-d input works as well as 3-d
  x4 <- array(d$test$x[1:8, , ] / 16, c(8, 8, 8, 1))
  expect_true(is.finite(mc_evaluate(m, x4, d$test$y[1:8])[["loss"]]))
  expect_mcb_error(mc_evaluate(m, array(0, c(2, 8, 8, 1, 1)), 1:2), "input",
                   "has dim c\\(2, 8, 8, 1, 1\\) but the model expects c\\(n, 8, 8, 1\\)")
  # integer images cross to Python as floats (as in mc_predict(), test-predict.R)
  expect_true(is.integer(d$train$x))
  expect_no_error(mc_fit(m, d$train$x[1:8, , ], d$train$y[1:8], epochs = 1, verbose = 0))
})


test_that("labels outside 0..classes-1 are refused with the model's class count", {
  skip_if_no_engine()
  m <- tiny_model()
  x <- scaled_digits(1:4)
  expect_mcb_error(mc_fit(m, x, c(0, 1, 10, 12), verbose = 0), "input",
                   "holds class codes up to 12, but the model has 10 classes \\(codes 0..9\\); 2 labels")
  expect_mcb_error(mc_train_on_batch(m, x, c(0, 1, 2, 10)), "input", "codes 0..9")
  # a classifier's loss takes class codes: negative or real values are refused by the model
  expect_mcb_error(mc_evaluate(m, x, c(0, -1, 2, 3)), "input", "1 negative labels")
  expect_mcb_error(mc_fit(m, x, c(0, 1.5, 2, 3), verbose = 0), "input",
                   "real values \\(e.g. 1.5\\).*sparse categorical.*mc_mlp\\(task = \"regression\"\\)")
  expect_mcb_error(mc_evaluate(m, array(0, c(4, 7, 8)), 0:3), "input",
                   "`x` has dim c\\(4, 7, 8, 1\\) but the model expects c\\(n, 8, 8, 1\\)")
})

test_that("mc_fit() in a script prints one plain line per epoch", {
  out <- fresh_session()  # a fresh Rscript (helper-mcbridge.R) ran mc_fit(epochs = 3)
  epochs <- grep("^Epoch", out, value = TRUE)
  expect_identical(length(epochs), 3L, info = paste(out, collapse = "\n"))
  expect_match(epochs[1], "^Epoch 1/3 - loss: [0-9.]+ - accuracy: [0-9.]+$")
  expect_false(any(grepl("\r|\033", out)))
})

test_that("Ctrl-C during mc_predict() or mc_fit() leaves the model as it was", {
  skip_if_no_engine()
  skip_on_os("windows")
  dir <- withr::local_tempdir()
  script <- mcbridge_script(dir,
    "writeLines(as.character(Sys.getpid()), file.path(commandArgs(TRUE)[1], 'pid'))",
    "d <- mc_dataset_digits()",
    "m <- mc_cnn(input_shape = c(8, 8, 1), filters = 4, dense_units = 8, dropout = c(0.25, 0.5), seed = 1)",
    "state <- reticulate::py_eval('lambda m: [float(v.numpy().astype(\"float64\").sum()) for v in m.weights]')",
    "w0 <- unlist(state(m)); x <- d$test$x / 16",
    "small <- mc_predict(m, x[1:3, , ], n_samples = 4, seed = 1)",
    "cat('PREDICTING\\n')",
    "r <- tryCatch(mc_predict(m, x[rep(1:359, 20), , ], n_samples = 2000, batch_size = 64),",
    "              interrupt = function(e) 'interrupted')",
    "cat('predict:', if (is.character(r)) r else 'finished', '\\n')",
    "cat('unchanged after predict:', identical(unlist(state(m)), w0), !mc_dropout_enabled(m),",
    "    identical(mc_predict(m, x[1:3, , ], n_samples = 4, seed = 1), small), '\\n')",
    "r <- tryCatch(mc_fit(m, d$train$x / 16, d$train$y, epochs = 500, batch_size = 8, verbose = 2),",
    "              interrupt = function(e) 'interrupted')",
    "cat('fit:', if (is.character(r)) r else 'finished', '\\n')",
    "cat('unchanged after fit:', identical(unlist(state(m)), w0), '\\n')"
  )
  out_file <- file.path(dir, "out.txt")
  local_rscript_env()
  system2(rscript(), c(script, dir), stdout = out_file, stderr = out_file, wait = FALSE)
  wait_for <- function(pattern, timeout = 120) {
    for (i in seq_len(timeout * 4)) {
      if (file.exists(out_file) && any(grepl(pattern, readLines(out_file, warn = FALSE)))) return(TRUE)
      Sys.sleep(0.25)
    }
    FALSE
  }
  expect_true(wait_for("PREDICTING"))
  pid <- as.integer(readLines(file.path(dir, "pid")))
  Sys.sleep(1)  # inside Python by then: the inputs are checked and sent in milliseconds
  tools::pskill(pid, tools::SIGINT)
  expect_true(wait_for("^Epoch 1/500"))
  tools::pskill(pid, tools::SIGINT)
  expect_true(wait_for("unchanged after fit"))
  out <- readLines(out_file)
  info <- paste(out, collapse = "\n")
  expect_true("predict: interrupted " %in% out, info = info)
  expect_true("unchanged after predict: TRUE TRUE TRUE " %in% out, info = info)
  expect_true("fit: interrupted " %in% out, info = info)
  expect_true("unchanged after fit: TRUE " %in% out, info = info)
})

# Tabular data: y = 1 - 2 a + 0.5 b (+ noise), in a data frame.
tabular <- function(n = 300, seed = 3) {
  set.seed(seed)
  df <- data.frame(a = rnorm(n), b = rnorm(n), c = runif(n))
  df$y <- 1 - 2 * df$a + 0.5 * df$b + rnorm(n, sd = 0.1)
  df
}

test_that("regression from R: mc_fit() takes real-valued y and a numeric data.frame", {
  skip_if_no_engine()
  df <- tabular()
  m <- mc_mlp(input_dim = 3, n_outputs = 1, hidden_units = 32, dropout = 0.1,
              task = "regression", seed = 2)
  before <- mc_evaluate(m, df[c("a", "b", "c")], df$y)[["loss"]]
  h <- mc_fit(m, df[c("a", "b", "c")], df$y, epochs = 40, batch_size = 32, verbose = 0)
  expect_identical(names(h), c("epoch", "loss", "mean_absolute_error"))
  after <- mc_evaluate(m, as.matrix(df[c("a", "b", "c")]), df$y)[["loss"]]
  expect_lt(after, before / 4)
  out <- mc_train_on_batch(m, df[1:32, c("a", "b", "c")], df$y[1:32])
  expect_identical(names(out), c("loss", "mean_absolute_error"))
  res <- mc_predict(m, df[1:20, c("a", "b", "c")], n_samples = 20, seed = 1, task = "regression")
  expect_identical(dim(res$all_samples), c(20L, 1L, 20L))
  expect_lt(mc_rmse(res, df$y[1:20]), 1)
  if (requireNamespace("tibble", quietly = TRUE)) {   # a tibble is a data.frame
    res_tbl <- mc_predict(m, tibble::as_tibble(df[1:20, c("a", "b", "c")]), n_samples = 20,
                          seed = 1, task = "regression")
    expect_identical(res_tbl$all_samples, res$all_samples)
  }
})

test_that("heteroscedastic regression trains from R and predicts its noise", {
  skip_if_no_engine()
  set.seed(5)
  x <- matrix(rnorm(800), ncol = 1)
  y <- 2 * x[, 1] + ifelse(x[, 1] > 0, 1, 0.1) * rnorm(800)
  m <- mc_mlp(input_dim = 1, n_outputs = 1, hidden_units = c(32, 32), dropout = c(0.05, 0.05),
              task = "regression", heteroscedastic = TRUE, seed = 4)
  mc_fit(m, x, y, epochs = 40, batch_size = 64, verbose = 0)
  res <- mc_predict(m, matrix(c(-1, 1)), n_samples = 30, seed = 5, task = "regression",
                    heteroscedastic = TRUE)
  noise_sd <- sqrt(rowMeans(res$noise_variance[, 1, ]))
  expect_gt(noise_sd[2], 2 * noise_sd[1])   # truly 10x; far apart after a short fit
})

test_that("tables: factor and character columns are refused, saying how to encode them", {
  df <- tabular(10)
  df$kind <- factor(rep(c("u", "v"), 5))
  df$note <- letters[1:10]
  m <- fake_model()
  expect_mcb_error(mc_fit(m, df, df$y, verbose = 0), "input",
                   "numeric columns only; \"kind\", \"note\" are not numeric \\(factor, character\\).*model.matrix")
  expect_mcb_error(mc_predict(m, df["kind"]), "input", "\"kind\" is not numeric")
  expect_mcb_error(mc_predict(m, df[0, c("a", "b")]), "input", "`x` is empty")
  expect_mcb_error(mc_predict(m, array(0, c(0, 8, 8))), "input", "`x` is empty \\(dim c\\(0, 8, 8\\)\\)")
})

test_that("a factor's levels become the model's class names: later labels match by name, predictions are named", {
  skip_if_no_engine()
  x <- scale(iris[1:4])
  m <- mc_mlp(input_dim = 4, n_outputs = 3, hidden_units = 8, dropout = 0.1, seed = 1)
  mc_fit(m, x, iris$Species, epochs = 2, batch_size = 50, verbose = 0)
  res <- mc_predict(m, x, n_samples = 4, seed = 1)
  expect_identical(mc_class_names(res), levels(iris$Species))
  # the same labels with the levels in another order (or as text) are the same classes
  other <- factor(iris$Species, levels = rev(levels(iris$Species)))
  expect_identical(mc_evaluate(m, x, other), mc_evaluate(m, x, iris$Species))
  expect_identical(mc_evaluate(m, x, as.character(iris$Species)), mc_evaluate(m, x, iris$Species))
  expect_equal(mc_accuracy(res, other), mc_accuracy(res, iris$Species))
  before <- mc_train_on_batch(m, x[1:10, ], other[1:10])  # trained by name too
  expect_true(is.finite(before[[1]]))
  expect_mcb_error(mc_fit(m, x[1:3, ], factor(c("setosa", "rose", "rose")), epochs = 1, verbose = 0),
                   "input", "not class names")
  # saved and loaded, the model still knows its classes by name (a reversed factor is not misread)
  f <- withr::local_tempfile(fileext = ".keras")
  mc_save_model(m, f)
  m2 <- mc_load_model(f)
  expect_identical(mc_class_names(mc_predict(m2, x, n_samples = 4, seed = 1)), levels(iris$Species))
  expect_identical(mc_evaluate(m2, x, other), mc_evaluate(m, x, iris$Species))
  expect_mcb_error(mc_evaluate(m2, x[1:3, ], factor(c("setosa", "rose", "rose"))), "input", "not class names")
})
