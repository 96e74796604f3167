# Monte Carlo dropout on Fashion-MNIST from R, following the seed recipe:
# build the CNN, fit(), a train_on_batch() loop over mini-batches, then
# mc_predict() with 30 samples in batches of 128 and the first item's class
# and uncertainty.
#
# Run:  Rscript examples/mc_dropout_fashion_mnist.R
# A quick run on a slice (as the tests do):
#       MCBRIDGE_EXAMPLE_N=512 MCBRIDGE_EXAMPLE_EPOCHS=1 Rscript examples/mc_dropout_fashion_mnist.R
# or:   Rscript examples/mc_dropout_fashion_mnist.R --n=512 --epochs=1
# Needs Fashion-MNIST (Debian: apt-get install dataset-fashion-mnist, or set
# MCBRIDGE_FASHION_MNIST to a directory with the four *-ubyte.gz files).

library(mcbridge)

arg <- function(name, default) {
  args <- commandArgs(trailingOnly = TRUE)
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  env <- Sys.getenv(paste0("MCBRIDGE_EXAMPLE_", toupper(name)), "")
  value <- if (length(hit)) sub("^[^=]*=", "", hit[1]) else if (nzchar(env)) env else default
  as.integer(value)
}
n_train <- arg("n", 60000L)        # training images used (a slice for quick runs)
epochs <- arg("epochs", 3L)
n_test <- min(n_train, 10000L)

fashion <- mc_dataset_fashion_mnist()
x_train <- fashion$train$x[seq_len(n_train), , , drop = FALSE] / 255
y_train <- fashion$train$y[seq_len(n_train)]
x_test <- fashion$test$x[seq_len(n_test), , , drop = FALSE] / 255
y_test <- fashion$test$y[seq_len(n_test)]
x_train <- array(x_train, c(dim(x_train), 1))   # c(n, 28, 28, 1)
x_test <- array(x_test, c(dim(x_test), 1))

# Step 1: the CNN with runtime-switchable dropout.
model <- mc_cnn(input_shape = c(28, 28, 1), n_classes = 10, filters = c(32, 64),
                dropout = c(0.25, 0.25, 0.5))

# Step 2a: fit() with mini-batches.
history <- model |> mc_fit(x_train, y_train, batch_size = 128, epochs = epochs,
                           validation_split = 0.1, verbose = 2)
print(history)

# Step 2b: a custom loop with train_on_batch() (dropout is on in training).
batch_size <- 128
num_batches <- ceiling(n_train / batch_size)
for (epoch in 1:1) {
  epoch_loss <- 0
  for (batch in 1:num_batches) {
    idx <- ((batch - 1) * batch_size + 1):min(batch * batch_size, n_train)
    batch_loss <- model |> mc_train_on_batch(x_train[idx, , , , drop = FALSE], y_train[idx])
    epoch_loss <- epoch_loss + batch_loss[[1]]
  }
  cat("Epoch", epoch, "average train_on_batch loss:", round(epoch_loss / num_batches, 4), "\n")
}
print(mc_evaluate(model, x_test, y_test))

# Step 3: Monte Carlo prediction, 30 samples, batches of 128.
mc_results <- mc_predict(model, x_test, n_samples = 30, batch_size = 128)
print(mc_results)

first_class <- which.max(mc_results$mean[1, ]) - 1
cat("First test item: predicted class", first_class, "(true", y_test[1], ")\n")
cat("First test item: largest class variance",
    round(max(mc_results$variance[1, ]), 4), "\n")
cat("First test item: predictive entropy", round(mc_predictive_entropy(mc_results)[1], 4),
    "mutual information", round(mc_mutual_information(mc_results)[1], 4),
    "variation ratio", round(mc_variation_ratio(mc_results)[1], 4), "\n")
