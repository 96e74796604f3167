# Datasets, shaped as R keras' dataset_*() functions return them.

# Class names, label 0 first; the same as Python's
# mcbridge.datasets.FASHION_MNIST_CLASSES and DIGITS_CLASSES (tested).
.fashion_mnist_classes <- c("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
.digits_classes <- as.character(0:9)

.dataset <- function(name, path = NULL, classes = NULL) {
  keys <- c("x_train", "y_train", "x_test", "y_test")
  outs <- stats::setNames(lapply(keys, function(k) .arrow_alloc_c()), keys)
  .bridge_call("dataset", name, path, lapply(outs, `[[`, "addr"))
  get <- function(key) .arrow_import_c(outs[[key]]$array, outs[[key]]$schema)
  list(train = list(x = get("x_train"), y = get("y_train")),
       test = list(x = get("x_test"), y = get("y_test")),
       classes = classes)
}

#' Fashion-MNIST
#'
#' 70,000 28x28 grey-scale images of 10 kinds of clothing, read offline from
#' the original IDX files (on Debian: `apt-get install dataset-fashion-mnist`;
#' elsewhere download the four `*-ubyte.gz` files and pass their directory).
#'
#' @param path Directory with the IDX files; `NULL` searches the environment
#'   variable `MCBRIDGE_FASHION_MNIST` and the Debian location.
#' @return `list(train = list(x, y), test = list(x, y), classes)`: `x`
#'   integer arrays `c(n, 28, 28)` with values 0-255, `y` integer labels 0-9
#'   (60,000 train, 10,000 test), `classes` the 10 class names, label 0 first
#'   (`"T-shirt/top"`, `"Trouser"`, ...), for `mc_class_names(res) <- fm$classes`.
#' @family training
#' @examplesIf mcbridge_available()
#' fm <- tryCatch(mc_dataset_fashion_mnist(),
#'                mcbridge_error_input = function(e) NULL)  # files not installed
#' if (!is.null(fm)) dim(fm$train$x)
#' @export
mc_dataset_fashion_mnist <- function(path = NULL) {
  if (!is.null(path) && (!is.character(path) || length(path) != 1 || !dir.exists(path))) {
    .abort(sprintf("`path` must be NULL or an existing directory, not %s.", .describe(path)),
           "input", arg = "path")
  }
  .dataset("fashion_mnist", if (is.null(path)) NULL else normalizePath(path),
           .fashion_mnist_classes)
}

#' Handwritten digits (8x8)
#'
#' The 1,797 8x8 digit images shipped with scikit-learn, split into 1,438
#' train and 359 test images by a fixed shuffle. Small and offline: good for
#' quick tests.
#'
#' @return `list(train = list(x, y), test = list(x, y), classes)`: `x` integer
#'   arrays `c(n, 8, 8)` with values 0-16, `y` integer labels 0-9, `classes`
#'   the class names `"0"` to `"9"` (for [mc_class_names()]).
#' @family training
#' @examplesIf mcbridge_available()
#' d <- mc_dataset_digits()
#' dim(d$train$x)
#' @export
mc_dataset_digits <- function() {
  .dataset("digits", classes = .digits_classes)
}
