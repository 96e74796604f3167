# The picture of a dense output (a segmentation map): input, prediction and
# uncertainty per position, side by side (base graphics).

.plot_dense <- function(x, item = 1, images = NULL) {
  d <- dim(x$all_samples)
  if (length(d) != 5 || mc_task(x) != "classification") {
    lead <- paste(d[seq_len(length(d) - 2)], collapse = ", ")
    .abort(sprintf(paste0("`x` has dim c(%s): plot() draws the maps of a classification output ",
                          "c(n, H, W, classes, samples). Plot a measure per position yourself: ",
                          "mc_predictive_entropy(x) and mc_mutual_information(x) have dim c(%s)%s."),
                   paste(d, collapse = ", "), lead,
                   if (mc_task(x) == "regression") ", the standard deviation sqrt(x$variance)" else ""),
           "input", arg = "x")
  }
  ok <- is.numeric(item) && length(item) == 1 && !is.na(item) && item == round(item) &&
    item >= 1 && item <= d[1]
  if (!isTRUE(ok)) {
    .abort(sprintf("`item` must be a single row index from 1 to %d (at most %d), not %s.", d[1], d[1],
                   .describe(item)), "argument", arg = "item")
  }
  one <- x[item, ]
  maps <- list(
    `predicted class` = mc_predicted_class(one)[1, , ],
    `predictive entropy` = mc_predictive_entropy(one)[1, , ],
    `mutual information` = mc_mutual_information(one)[1, , ])
  if (!is.null(images)) {
    di <- dim(images)
    if (!is.numeric(images) || length(di) < 3 || di[1] != d[1] || !all(di[2:3] == d[2:3])) {
      .abort(sprintf(paste0("`images` must be the inputs of `x`: an array c(%d, %d, %d) (or with a ",
                            "channel axis), not %s."), d[1], d[2], d[3], .describe(images)),
             "input", arg = "images")
    }
    img <- matrix(images[cbind(item, rep(seq_len(d[2]), d[3]), rep(seq_len(d[3]), each = d[2]),
                               if (length(di) > 3) 1)], d[2], d[3])
    maps <- c(list(input = img), maps)
  }
  op <- graphics::par(mfrow = c(1, length(maps)), mar = c(0.5, 0.5, 2.5, 0.5))
  on.exit(graphics::par(op))
  k <- d[4]
  for (name in names(maps)) {
    m <- maps[[name]]
    col <- switch(name, input = grDevices::gray.colors(64, 0, 1),
                  `predicted class` = grDevices::hcl.colors(max(k, 2), "Set 2"),
                  grDevices::hcl.colors(64, "viridis"))
    zlim <- switch(name, `predicted class` = c(0, k - 1),
                   `predictive entropy` = c(0, log(k)), `mutual information` = c(0, max(m, 1e-12)),
                   range(m))
    # row 1 of the map on top, as the image is seen
    graphics::image(t(m)[, nrow(m):1, drop = FALSE], col = col, zlim = zlim, axes = FALSE, asp = 1,
                    main = sprintf("%s%s", name, if (name %in% c("input", "predicted class")) "" else
                      sprintf("\n(mean %.3g nats)", mean(m))))
  }
  invisible(x)
}
