# The Python engine: which Python, starting it, and the one call per user
# call into mcbridge._rbridge (the Python half of the bridge).

# ---- which Python -------------------------------------------------------------

# Evaluated when the package is installed: scripts/setup_r.sh sets
# MCBRIDGE_PYTHON to the repository's venv, so the installed package finds
# the project's Python from any working directory.
.install_python <- Sys.getenv("MCBRIDGE_PYTHON", "")

.venv_python <- function(venv) {
  cands <- c(file.path(venv, "bin", "python"), file.path(venv, "Scripts", "python.exe"))
  cands[file.exists(cands)][1]
}

.venv_has_mcbridge <- function(venv) {
  site <- c(Sys.glob(file.path(venv, "lib", "python*", "site-packages")),
            file.path(venv, "Lib", "site-packages"))
  length(Sys.glob(file.path(site, "*mcbridge*"))) > 0
}

.default_envdir <- function(envname = "r-mcbridge") {
  if (grepl("[/\\\\]", envname)) return(path.expand(envname))
  path.expand(file.path(Sys.getenv("WORKON_HOME", "~/.virtualenvs"), envname))
}

#' The Python that mcbridge will use
#'
#' mcbridge follows reticulate's conventions. In order: the environment
#' variable `MCBRIDGE_PYTHON` or `RETICULATE_PYTHON`; the project's
#' virtualenv (a `.venv` with mcbridge installed in the working directory or
#' a parent, or the one `scripts/setup.sh` installed the package from); the
#' virtualenv made by [install_mcbridge()]. If none is found, reticulate makes
#' its own choice (on reticulate >= 1.41 with the requirement declared by
#' `py_require()`). When the package loads it declares the Python found
#' here, without starting it, so that whichever call starts Python first (an
#' mcbridge function, keras3, or `reticulate::import("keras")`) starts it.
#'
#' @return The path of the Python executable with, as attribute `source`, where
#'   it was found; `NULL` when none was found.
#' @family setup
#' @examples
#' mcbridge_python()
#' @export
mcbridge_python <- function() {
  # No normalizePath(): a venv's python is a symlink that must not be resolved.
  found <- function(path, source) structure(.abs_path(path), source = source)
  for (var in c("MCBRIDGE_PYTHON", "RETICULATE_PYTHON")) {
    py <- Sys.getenv(var, "")
    if (nzchar(py)) {
      if (!file.exists(py)) {
        .abort(sprintf("%s points to '%s', which does not exist; set it to a Python executable.",
                       var, py), "python")
      }
      return(found(py, var))
    }
  }
  dir <- normalizePath(getwd(), mustWork = FALSE)
  repeat {
    venv <- file.path(dir, ".venv")
    py <- .venv_python(venv)
    if (!is.na(py) && .venv_has_mcbridge(venv)) return(found(py, "project virtualenv"))
    parent <- dirname(dir)
    if (identical(parent, dir)) break
    dir <- parent
  }
  if (nzchar(.install_python) && file.exists(.install_python)) {
    return(found(.install_python, "project virtualenv (recorded at install)"))
  }
  py <- .venv_python(.default_envdir())
  if (!is.na(py)) return(found(py, "install_mcbridge()"))
  NULL
}

.abs_path <- function(path) {
  path <- path.expand(path)
  if (grepl("^(/|[A-Za-z]:[/\\\\]|\\\\\\\\)", path)) path else file.path(getwd(), path)
}

# Declares (never starts) the Python for this R session. Called by .onLoad.
.declare_python <- function() {
  if (reticulate::py_available(initialize = FALSE)) return(invisible())
  py <- tryCatch(mcbridge_python(), error = function(e) NULL)
  if (!is.null(py)) {
    # reticulate < 1.41 consults a pyproject.toml in the working directory
    # (Poetry) before use_python(); RETICULATE_PYTHON comes first, so it is
    # set when the user has not set it (no Python has started yet).
    if (!nzchar(Sys.getenv("RETICULATE_PYTHON"))) Sys.setenv(RETICULATE_PYTHON = py)
    reticulate::use_python(py, required = FALSE)
  } else if (is.function(.py_require())) {
    # reticulate >= 1.41: provision an environment with mcbridge if the user
    # has none configured.
    .py_require()("mcbridge")
  }
  invisible()
}

.py_require <- function() {
  ns <- asNamespace("reticulate")
  if (exists("py_require", envir = ns, inherits = FALSE)) get("py_require", envir = ns) else NULL
}

.python_missing_message <- function(e) {
  # py_config() would start Python (the wrong one, maybe) if it is not running.
  running <- if (reticulate::py_available(initialize = FALSE)) {
    tryCatch(reticulate::py_config()$python, error = function(e) NULL)
  }
  src <- .install_source()
  pip <- sprintf("%s -m pip install -e %s", shQuote(running %||% "python"),
                 shQuote(src %||% "<the mcbridge repository>"))
  found <- tryCatch(mcbridge_python(), error = function(e) NULL)
  paste0(
    "The Python package 'mcbridge' is not available to R",
    if (!is.null(running)) sprintf(" (the Python running in this R session is %s)", running), ".\n",
    "Reason: ", trimws(conditionMessage(e)), "\n",
    "To fix it, do one of:\n",
    if (!is.null(running)) paste0(
      "  * install mcbridge into the Python that runs, in a shell:\n",
      "      ", pip, "\n",
      "    (or from PyPI: ", shQuote(running), " -m pip install mcbridge), then restart R;\n"),
    "  * choose a Python that has mcbridge",
    if (!is.null(found)) sprintf(" (mcbridge would use %s)", found), ": restart R and, before ",
    "anything starts Python\n    (library(keras3), reticulate::import(), py_config(), ...), run\n",
    sprintf("      Sys.setenv(MCBRIDGE_PYTHON = \"%s\")\n", found %||% "/path/to/venv/bin/python"),
    "    or load mcbridge first: library(mcbridge) declares its Python without starting it;\n",
    "  * make a Python with mcbridge: in R, mcbridge::install_mcbridge(); or, in a shell from\n",
    "    the mcbridge repository, scripts/setup.sh."
  )
}

# ---- the modules --------------------------------------------------------------

# A directory named `mcbridge` in the working directory (an R library, say)
# shadows the Python package as an empty namespace package: import it again
# with the working directory left out of Python's search path.
.import_unshadowed <- function() {
  reticulate::py_run_string(paste(
    "import os, sys",
    "for _m in [m for m in sys.modules if m == 'mcbridge' or m.startswith('mcbridge.')]:",
    "    sys.modules.pop(_m, None)",
    "_saved = list(sys.path)",
    "sys.path[:] = [p for p in sys.path if p not in ('', '.', os.getcwd())]",
    "try:",
    "    import mcbridge, mcbridge._rbridge",
    "finally:",
    "    sys.path[:] = _saved",
    sep = "\n"), convert = FALSE)
  reticulate::import("mcbridge", convert = FALSE)
}

.load_engine <- function() {
  if (!is.null(.state$bridge)) return(invisible())
  tryCatch({
    mod <- mcbridge %||% reticulate::import("mcbridge", convert = FALSE)
    mod$`__name__`  # resolves the delayed import
    if (!reticulate::py_has_attr(mod, "mc_predict")) mod <- .import_unshadowed()
    if (!reticulate::py_has_attr(mod, "mc_predict")) {
      stop("`import mcbridge` finds a directory that is not the mcbridge Python package.")
    }
    .state$module <- mod
    .state$bridge <- reticulate::import("mcbridge._rbridge", convert = FALSE)
  }, error = function(e) {
    if (inherits(e, "mcbridge_error")) stop(e)
    .abort(.python_missing_message(e), "python")
  })
  invisible()
}

# The mcbridge Python module / its R bridge, loaded on first use.
.mcb <- function() {
  .load_engine()
  .state$module
}

.bridge <- function() {
  .load_engine()
  .state$bridge
}

# One call into mcbridge._rbridge. It answers {"value": ...} or
# {"error": kind, "message": ...}; the latter becomes mcbridge_error_<kind>.
# The value stays a Python object (convert = FALSE) unless `convert`.
.bridge_call <- function(fun, ..., convert = TRUE) {
  res <- reticulate::py_call(reticulate::py_get_attr(.bridge(), fun), ...)
  err <- reticulate::py_to_r(res$get("error"))
  if (!is.null(err)) .abort(reticulate::py_to_r(res$get("message")), err)
  for (msg in unlist(reticulate::py_to_r(res$get("warnings")))) {  # mcbridge's own warnings
    warning(structure(class = c("mcbridge_warning", "warning", "condition"),
                      list(message = msg, call = NULL)))
  }
  value <- res$get("value")
  if (convert) reticulate::py_to_r(value) else value
}

#' Is the Python engine available?
#'
#' @param initialize If `TRUE` (default), start Python if needed and import the
#'   `mcbridge` Python package; if `FALSE`, only report whether a Python is
#'   running or was found (see [mcbridge_python()]), without starting it.
#' @return `TRUE` or `FALSE`.
#' @family setup
#' @examples
#' mcbridge_available(initialize = FALSE)
#' @export
mcbridge_available <- function(initialize = TRUE) {
  initialize <- .check_flag(initialize, "initialize")
  if (!initialize) {
    return(reticulate::py_available(initialize = FALSE) ||
             !is.null(tryCatch(mcbridge_python(), error = function(e) NULL)))
  }
  tryCatch({ .load_engine(); TRUE }, error = function(e) FALSE)
}

#' Install the Python side of mcbridge
#'
#' Follows the `install_*()` convention of the keras3 and tensorflow R
#' packages: creates a Python virtual environment (by default
#' `~/.virtualenvs/r-mcbridge`) and installs the `mcbridge` Python package
#' with TensorFlow into it. mcbridge finds that environment by itself
#' afterwards (see [mcbridge_python()]); restart R if Python was already
#' started in this session.
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
#' @family setup
#' @examples
#' install_mcbridge(envname = file.path(tempdir(), "env"), dry_run = TRUE)
#' @export
install_mcbridge <- function(envname = "r-mcbridge", package = NULL,
                             flavour = c("cpu", "gpu"), python = NULL,
                             dry_run = FALSE) {
  flavour <- match.arg(flavour)
  envname <- .check_string(envname, "envname")
  dry_run <- .check_flag(dry_run, "dry_run")
  python <- python %||% unname(Sys.which("python3"))
  if (!nzchar(python)) .abort("No `python3` found on the PATH; pass `python =`.", "python")
  envdir <- .default_envdir(envname)
  if (is.null(package)) {
    src <- .install_source()
    package <- if (!is.null(src)) src else "mcbridge"
  }
  spec <- sprintf("%s[%s]", .check_string(package, "package"), flavour)
  env_py <- file.path(envdir, "bin", "python")
  cmds <- list(c(python, "-m", "venv", envdir),
               c(env_py, "-m", "pip", "install", "--upgrade", "pip"),
               c(env_py, "-m", "pip", "install", spec))
  if (dry_run) return(vapply(cmds, function(x) paste(shQuote(x), collapse = " "), ""))
  for (cmd in cmds) {
    message("Running: ", paste(cmd, collapse = " "))
    status <- system2(cmd[1], cmd[-1])
    if (!identical(status, 0L)) .abort(paste("Command failed:", paste(cmd, collapse = " ")), "python")
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

# ---- arrays across, one crossing each (tests, benchmarks) -----------------------

# R array -> NumPy array (a view of the exported Arrow buffer, column-major).
.r_to_py <- function(x, type = nanoarrow::na_float()) {
  ex <- .arrow_export_c(x, type = type)
  reticulate::py_call(reticulate::py_get_attr(.bridge(), "import_array"),
                      ex$addr[[1]], ex$addr[[2]])
}

# Python MCResult / ndarray -> R (mc_prediction / array).
.py_to_r <- function(obj) {
  out <- .arrow_alloc_c()
  reticulate::py_call(reticulate::py_get_attr(.bridge(), "export"), obj,
                      out$addr[[1]], out$addr[[2]])
  .arrow_import_c(out$array, out$schema)
}
