# Finding and loading the Python engine.

# The delayed Python module (convert = FALSE: arrays cross by Arrow, never by
# reticulate's NumPy conversion, which fails with reticulate < 1.38 + NumPy 2).
mcbridge <- NULL

# Evaluated when the package is installed: scripts/setup_r.sh sets
# MCBRIDGE_PYTHON to the repository's venv so that the installed package finds
# its engine from any working directory.
.install_python <- Sys.getenv("MCBRIDGE_PYTHON", "")

.state <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  # Only declares the import; Python starts on the first call that needs it.
  # (If Python is already running without mcbridge, loading still succeeds and
  # the first call gives the instructions.)
  mcbridge <<- tryCatch(
    reticulate::import(
      "mcbridge",
      convert = FALSE,
      delay_load = list(
        before_load = function() .use_mcbridge_python(),
        on_error = function(e) stop(.python_missing_message(e), call. = FALSE)
      )
    ),
    error = function(e) NULL
  )
}

.venv_python <- function(venv) {
  cands <- c(file.path(venv, "bin", "python"),
             file.path(venv, "Scripts", "python.exe"))
  cands[file.exists(cands)][1]
}

.venv_has_mcbridge <- function(venv) {
  site <- c(Sys.glob(file.path(venv, "lib", "python*", "site-packages")),
            file.path(venv, "Lib", "site-packages"))
  length(Sys.glob(file.path(site, "*mcbridge*"))) > 0
}

#' Find the Python that mcbridge will use
#'
#' Looks, in order, at `getOption("mcbridge.python")`, the environment
#' variables `MCBRIDGE_PYTHON` and `RETICULATE_PYTHON`, a `.venv` with
#' mcbridge installed in the working directory or any parent, the Python
#' recorded when the R package was installed by `scripts/setup_r.sh`, and the
#' virtual environment made by [install_mcbridge()].
#'
#' @return The path of the Python executable and, as attribute `source`, where
#'   it was found; `NULL` when none was found.
#' @examples
#' mcbridge_python()
#' @export
mcbridge_python <- function() {
  # No normalizePath(): a venv's python is a symlink that must not be resolved.
  found <- function(path, source) structure(.abs_path(path), source = source)
  explicit <- list(
    "option mcbridge.python" = getOption("mcbridge.python", ""),
    "MCBRIDGE_PYTHON" = Sys.getenv("MCBRIDGE_PYTHON", ""),
    "RETICULATE_PYTHON" = Sys.getenv("RETICULATE_PYTHON", "")
  )
  for (src in names(explicit)) {
    py <- explicit[[src]]
    if (nzchar(py)) {
      if (!file.exists(py)) {
        stop(sprintf("%s points to '%s', which does not exist.", src, py),
             call. = FALSE)
      }
      return(found(py, src))
    }
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  repeat {
    venv <- file.path(dir, ".venv")
    py <- .venv_python(venv)
    if (!is.na(py) && .venv_has_mcbridge(venv)) return(found(py, "working directory"))
    parent <- dirname(dir)
    if (identical(parent, dir)) break
    dir <- parent
  }
  if (nzchar(.install_python) && file.exists(.install_python)) {
    return(found(.install_python, "recorded at install"))
  }
  py <- .venv_python(.default_envdir())
  if (!is.na(py)) return(found(py, "install_mcbridge()"))
  NULL
}

.abs_path <- function(path) {
  path <- path.expand(path)
  if (grepl("^(/|[A-Za-z]:[/\\\\]|\\\\\\\\)", path)) path else file.path(getwd(), path)
}

.default_envdir <- function(envname = "r-mcbridge") {
  if (grepl("[/\\\\]", envname)) return(path.expand(envname))
  home <- Sys.getenv("WORKON_HOME", "~/.virtualenvs")
  path.expand(file.path(home, envname))
}

.use_mcbridge_python <- function() {
  if (reticulate::py_available(initialize = FALSE)) return(invisible())
  py <- mcbridge_python()
  if (!is.null(py)) {
    # RETICULATE_PYTHON makes reticulate skip its own discovery (which would
    # e.g. warn about a pyproject.toml in the working directory).
    Sys.setenv(RETICULATE_PYTHON = py)
    reticulate::use_python(py, required = TRUE)
  }
  invisible()
}

.python_missing_message <- function(e) {
  # py_config() would start Python (the wrong one, maybe) if it is not running.
  cfg <- if (reticulate::py_available(initialize = FALSE)) {
    tryCatch(reticulate::py_config()$python, error = function(e) NULL)
  }
  paste0(
    "The Python package 'mcbridge' is not available to R",
    if (!is.null(cfg)) sprintf(" (Python used: %s)", cfg), ".\n",
    "Reason: ", conditionMessage(e), "\n",
    "To fix it, do one of:\n",
    "  * in R:     mcbridge::install_mcbridge()\n",
    "  * in a shell, from the mcbridge repository:  scripts/setup.sh\n",
    "  * point R at a Python that has mcbridge, before the first mcbridge call:\n",
    "      Sys.setenv(MCBRIDGE_PYTHON = \"/path/to/venv/bin/python\")\n",
    "    (restart R first if Python was already started in this session)."
  )
}

# The Python module, loaded on first use.
.mcb <- function() {
  if (is.null(.state$module)) {
    mod <- mcbridge
    if (is.null(mod)) {
      .use_mcbridge_python()
      mod <- tryCatch(reticulate::import("mcbridge", convert = FALSE),
                      error = function(e) stop(.python_missing_message(e), call. = FALSE))
    }
    mod$`__name__`  # resolves the delayed import (runs before_load first)
    if (!reticulate::py_has_attr(mod, "mc_predict")) mod <- .import_unshadowed()
    .state$module <- mod
  }
  .state$module
}

# A directory named `mcbridge` in the working directory (an R library, say)
# shadows the Python package as an empty namespace package: import it again
# with the working directory left out of Python's search path.
.import_unshadowed <- function() {
  reticulate::py_run_string(paste(
    "import os, sys",
    "sys.modules.pop('mcbridge', None)",
    "_saved = list(sys.path)",
    "sys.path[:] = [p for p in sys.path if p not in ('', '.', os.getcwd())]",
    "try:",
    "    import mcbridge",
    "finally:",
    "    sys.path[:] = _saved",
    sep = "\n"), convert = FALSE)
  mod <- reticulate::import("mcbridge", convert = FALSE)
  if (!reticulate::py_has_attr(mod, "mc_predict")) {
    stop(.python_missing_message(simpleError(
      "`import mcbridge` finds a directory that is not the mcbridge Python package.")),
      call. = FALSE)
  }
  mod
}

# R-facing helpers that live in this package (inst/python).
.glue <- function() {
  if (is.null(.state$glue)) {
    .mcb()
    .state$glue <- reticulate::import_from_path(
      "mcbridge_rglue", path = system.file("python", package = "mcbridge"),
      convert = FALSE
    )
  }
  .state$glue
}

#' Is the Python engine available?
#'
#' @param initialize If `TRUE` (default), start Python if needed and try to
#'   import the `mcbridge` Python package; if `FALSE`, only report whether a
#'   Python was found.
#' @return `TRUE` or `FALSE`.
#' @examples
#' mcbridge_available(initialize = FALSE)
#' @export
mcbridge_available <- function(initialize = TRUE) {
  if (!initialize) {
    return(reticulate::py_available(initialize = FALSE) || !is.null(mcbridge_python()))
  }
  tryCatch({ .mcb(); TRUE }, error = function(e) FALSE)
}

#' Install the Python side of mcbridge
#'
#' Creates a Python virtual environment and installs the `mcbridge` Python
#' package with TensorFlow into it. Afterwards mcbridge finds it by itself.
#'
#' @param envname Name of the environment under `~/.virtualenvs` (or
#'   `WORKON_HOME`), or a path.
#' @param package What to `pip install`: by default the mcbridge source
#'   directory this R package was installed from, when known, else
#'   `"mcbridge"` from PyPI.
#' @param flavour `"cpu"` installs `tensorflow-cpu`, `"gpu"` the full
#'   `tensorflow` wheel.
#' @param python The Python used to create the environment (default: `python3`
#'   on the `PATH`).
#' @param dry_run If `TRUE`, only return the commands that would be run.
#' @return The path of the environment's Python, invisibly (or the commands,
#'   for `dry_run = TRUE`).
#' @examplesIf interactive()
#' install_mcbridge()
#' @export
install_mcbridge <- function(envname = "r-mcbridge", package = NULL,
                             flavour = c("cpu", "gpu"), python = NULL,
                             dry_run = FALSE) {
  flavour <- match.arg(flavour)
  python <- python %||% unname(Sys.which("python3"))
  if (!nzchar(python)) stop("No `python3` found on the PATH; pass `python =`.", call. = FALSE)
  envdir <- .default_envdir(envname)
  if (is.null(package)) {
    src <- .install_source()
    package <- if (!is.null(src)) src else "mcbridge"
  }
  spec <- sprintf("%s[%s]", package, flavour)
  env_py <- file.path(envdir, "bin", "python")
  cmds <- list(c(python, "-m", "venv", envdir),
               c(env_py, "-m", "pip", "install", "--upgrade", "pip"),
               c(env_py, "-m", "pip", "install", spec))
  if (dry_run) return(vapply(cmds, function(x) paste(shQuote(x), collapse = " "), ""))
  for (cmd in cmds) {
    message("Running: ", paste(cmd, collapse = " "))
    status <- system2(cmd[1], cmd[-1])
    if (!identical(status, 0L)) stop("Command failed: ", paste(cmd, collapse = " "), call. = FALSE)
  }
  if (!reticulate::py_available(initialize = FALSE)) Sys.setenv(MCBRIDGE_PYTHON = env_py)
  message("mcbridge's Python is ready: ", env_py,
          "\nmcbridge finds it automatically; to pin it, add to ~/.Renviron:\n",
          "  MCBRIDGE_PYTHON=", env_py)
  invisible(env_py)
}

# The repository this package was installed from (when setup_r.sh installed
# it: MCBRIDGE_PYTHON was <repo>/.venv/bin/python).
.install_source <- function() {
  if (!nzchar(.install_python)) return(NULL)
  repo <- dirname(dirname(dirname(.install_python)))
  if (file.exists(file.path(repo, "pyproject.toml"))) repo else NULL
}

`%||%` <- function(x, y) if (is.null(x)) y else x
