test_that("mc_dataset_digits() is shaped like keras' dataset_*()", {
  d <- digits()   # mc_dataset_digits(), cached
  expect_named(d, c("train", "test", "classes"))
  expect_identical(d$classes, as.character(0:9))
  expect_named(d$train, c("x", "y"))
  expect_identical(dim(d$train$x), c(1438L, 8L, 8L))
  expect_identical(dim(d$test$x), c(359L, 8L, 8L))
  expect_type(d$train$x, "integer")
  expect_type(d$train$y, "integer")
  expect_true(all(d$train$x >= 0 & d$train$x <= 16))
  expect_setequal(unique(d$train$y), 0:9)
})

test_that("digits pixels keep their orientation (index semantics)", {
  d <- digits()
  py <- reticulate::py_run_string(paste(
    "from mcbridge.datasets import load_digits",
    "(x, y), _ = load_digits(normalize=False)",
    "seen = [int(x[0, 2, 5, 0]), int(x[10, 7, 1, 0]), int(y[3])]", sep = "\n"), local = TRUE)
  expect_identical(unlist(py[["seen"]]), c(d$train$x[1, 3, 6], d$train$x[11, 8, 2], d$train$y[4]))
})

test_that("mc_dataset_fashion_mnist() reads the IDX files", {
  skip_if_no_engine()
  fm <- tryCatch(mc_dataset_fashion_mnist(), error = function(e) e)
  if (inherits(fm, "error")) {
    expect_match(conditionMessage(fm), "dataset-fashion-mnist|not found")
    skip("Fashion-MNIST files are not installed")
  }
  expect_identical(dim(fm$train$x), c(60000L, 28L, 28L))
  expect_identical(dim(fm$test$x), c(10000L, 28L, 28L))
  expect_type(fm$test$x, "integer")
  expect_identical(range(fm$train$x), c(0L, 255L))
  expect_setequal(unique(fm$test$y), 0:9)
  expect_identical(fm$classes[c(1, 10)], c("T-shirt/top", "Ankle boot"))
  expect_error(mc_dataset_fashion_mnist(path = "/nonexistent"), "existing directory")
})

test_that("the datasets' class names are Python's", {
  skip_if_no_engine()
  py <- reticulate::import("mcbridge.datasets")
  expect_identical(unlist(py$FASHION_MNIST_CLASSES), mcbridge:::.fashion_mnist_classes)
  expect_identical(unlist(py$DIGITS_CLASSES), digits()$classes)
})
