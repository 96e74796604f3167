# mc_predict from R vs the same call from Python, side by side in one process.
#
#   Rscript benchmarks/bench_r_vs_python.R           # 10,000 Fashion-MNIST inputs x 30 samples
#   Rscript benchmarks/bench_r_vs_python.R --quick   # 1,000 inputs
#
# R: mcbridge::mc_predict(model, x) with x an R array, i.e. R-side checks,
# R -> Python input transfer, prediction, Python -> R transfer of the samples
# and R's mean/variance. Python: mcbridge.mc_predict(model, x) on the same
# model with x already a NumPy array, timed inside the same embedded Python.
# Target (issue 4): R within 1.15x of Python.
suppressWarnings(suppressPackageStartupMessages(library(mcbridge)))
quick <- "--quick" %in% commandArgs(trailingOnly = TRUE)
n <- if (quick) 1000L else 10000L
n_samples <- 30L
repeats <- if (quick) 2L else 3L

fm <- mc_dataset_fashion_mnist()
x <- fm$test$x[seq_len(n), , , drop = FALSE] / 255
model <- mc_cnn(seed = 0)
py <- reticulate::py_run_string("
import time, numpy as np, mcbridge
def time_python(model, x_r_layout, n_samples, seed):
    x = np.ascontiguousarray(x_r_layout)[..., None].astype('float32')
    t = time.perf_counter()
    mcbridge.mc_predict(model, x, n_samples=n_samples, batch_size=128, seed=seed)
    return time.perf_counter() - t
", convert = FALSE)
# The same inputs as a NumPy array, sent once, outside the timing.
x_py <- mcbridge:::.r_to_py(x)

bridge <- reticulate::import("mcbridge._rbridge", convert = FALSE)
inside <- numeric(0)   # seconds each R call spent inside its one Python call
time_r <- function() {
  t <- system.time(
    mc_predict(model, x, n_samples = n_samples, batch_size = 128, seed = 1, progress = FALSE)
  )[["elapsed"]]
  inside <<- c(inside, reticulate::py_to_r(bridge$seconds$get("predict")))
  t
}
time_py <- function() reticulate::py_to_r(py$time_python(model, x_py, n_samples, 1L))

invisible(time_r()); invisible(time_py())   # warm-up: tracing, first allocations
r <- p <- numeric(repeats)
for (i in seq_len(repeats)) { r[i] <- time_r(); p[i] <- time_py() }   # interleaved
cat(sprintf("mc_predict, %d Fashion-MNIST inputs x %d samples, seed CNN (best of %d, interleaved)\n",
            n, n_samples, repeats))
cat(sprintf("  from Python: %.2f s  (%.0f samples/s)\n", min(p), n * n_samples / min(p)))
cat(sprintf("  from R:      %.2f s  (%.0f samples/s; transfers and R mean/variance included)\n",
            min(r), n * n_samples / min(r)))
cat(sprintf("  R / Python:  %.3fx  (target <= 1.15x)\n", min(r) / min(p)))
best <- which.min(r)
cat(sprintf("  R overhead outside the Python call: %.3f s (%.1f%% of the R call: checks, float32 export, import of the samples, mean/variance)\n",
            r[best] - inside[length(inside) - length(r) + best],
            100 * (r[best] - inside[length(inside) - length(r) + best]) / r[best]))
