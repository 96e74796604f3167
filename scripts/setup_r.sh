#!/usr/bin/env bash
# Install the R side of mcbridge: R, the R packages it needs, rpy2 in the
# project venv, and the R package in r-package/.
#
# Usage (from the repository root, after the venv exists):
#   scripts/setup_r.sh            # normally called by scripts/setup.sh
#
# Environment:
#   MCBRIDGE_VENV      the venv to use (default: .venv)
#   MCBRIDGE_R_LIB     install the R package into this library (default: R's
#                      first writable library)
#   MCBRIDGE_CRAN      CRAN mirror to try for nanoarrow
#                      (default: https://cloud.r-project.org)
#
# Idempotent: each step checks first and does nothing when its part is there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${MCBRIDGE_VENV:-.venv}"
CRAN="${MCBRIDGE_CRAN:-https://cloud.r-project.org}"
STAMP="$ROOT/.setup-stamp-r"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"   # as_root, apt_install_missing

say() { printf '[setup_r] %s\n' "$*"; }
die() { printf '[setup_r] ERROR: %s\n' "$*" >&2; exit 1; }

# --- 1. R and R packages from Debian ----------------------------------------
# cli: progress bars in R (suggested); generics and tibble: augment(),
# glance(), tidy() of an mc_prediction (suggested); roxygen2: regenerates r-package/man
# and NAMESPACE from the roxygen comments (for developers); knitr, rmarkdown
# and pandoc build the vignettes (R CMD build, tests/test_r_vignettes.py).
DEBS=(r-base-core r-base-dev r-cran-reticulate r-cran-testthat r-cran-withr
      r-cran-jsonlite r-cran-cli r-cran-roxygen2 r-cran-knitr r-cran-rmarkdown r-cran-ggplot2
      r-cran-generics r-cran-tibble pandoc)
if command -v dpkg-query >/dev/null 2>&1; then
    apt_install_missing "${DEBS[@]}" || die "could not install ${DEBS[*]} with apt (root or sudo needed)"
    say "R and Debian R packages: present"
else
    command -v Rscript >/dev/null 2>&1 ||
        die "not a Debian system: install R >= 4.1, pandoc and the R packages reticulate, testthat, withr, jsonlite, knitr, rmarkdown, nanoarrow yourself"
fi
command -v Rscript >/dev/null 2>&1 || die "Rscript not found after install"

r_has() {
    Rscript --vanilla -e "quit(status = if (requireNamespace('$1', quietly = TRUE)) 0 else 1)" \
        >/dev/null 2>&1
}

# --- 2. nanoarrow: CRAN, else Debian, else the Debian 13 binary --------------
install_nanoarrow_trixie() {
    local tmp
    tmp="$(mktemp -d)"
    say "fetching r-cran-nanoarrow from Debian 13 (trixie) (not in this release)"
    mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
    # The Debian mirror this machine already uses (security mirrors excluded).
    local mirror
    mirror="$( { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                     /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
              grep -v '^[[:space:]]*#' | grep -Eo 'https?://[^][[:space:]]+' |
              grep -v -- '-security' | head -n1 || true)"
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*; install R nanoarrow by hand"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
        >"$tmp/trixie.list"
    local opts=(-oDir::Etc::SourceList="$tmp/trixie.list"
                -oDir::Etc::SourceParts=/dev/null
                -oDir::State::Lists="$tmp/lists"
                -oDir::Cache::Archives="$tmp/archives"
                -oAPT::Sandbox::User=root)
    as_root apt-get "${opts[@]}" update -qq
    (cd "$tmp" && as_root apt-get "${opts[@]}" download r-cran-nanoarrow)
    local deb
    deb="$(ls "$tmp"/r-cran-nanoarrow_*.deb 2>/dev/null | head -n1)"
    [ -n "$deb" ] || die "could not download r-cran-nanoarrow from trixie"
    say "dpkg -i $(basename "$deb")"
    as_root dpkg -i "$deb"
    as_root rm -rf "$tmp"
}

if r_has nanoarrow; then
    say "R package nanoarrow: present"
else
    if timeout 5 curl -fsS -o /dev/null "$CRAN/src/contrib/PACKAGES" 2>/dev/null; then
        say "installing nanoarrow from CRAN ($CRAN)"
        if [ -w "$(Rscript --vanilla -e 'cat(.libPaths()[1])')" ]; then
            Rscript --vanilla -e "install.packages('nanoarrow', repos = '$CRAN')"
        else
            as_root Rscript --vanilla -e "install.packages('nanoarrow', repos = '$CRAN')"
        fi
    elif apt-cache show r-cran-nanoarrow >/dev/null 2>&1; then
        say "CRAN not reachable; installing Debian's r-cran-nanoarrow"
        apt_install_missing r-cran-nanoarrow || die "apt-get install r-cran-nanoarrow failed"
    else
        say "CRAN not reachable and r-cran-nanoarrow not in this Debian release"
        install_nanoarrow_trixie
    fi
    r_has nanoarrow || die "nanoarrow still not loadable in R"
    say "R package nanoarrow: installed"
fi

# --- 3. rpy2 in the venv, version chosen by R's version ----------------------
PY="$VENV/bin/python"
[ -x "$PY" ] || die "no Python venv at $VENV (run scripts/setup.sh first)"
R_VER="$(Rscript --vanilla -e 'cat(as.character(getRversion()))')"
if Rscript --vanilla -e 'quit(status = if (getRversion() >= "4.5.0") 0 else 1)' >/dev/null 2>&1; then
    RPY2_SPEC="rpy2>=3.6"
else
    RPY2_SPEC="rpy2==3.5.17"
fi
if "$PY" - "$RPY2_SPEC" <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
spec = sys.argv[1]
v = version("rpy2")
ok = v == spec.split("==")[1] if "==" in spec else tuple(map(int, v.split(".")[:2])) >= (3, 6)
sys.exit(0 if ok else 1)
EOF
then
    say "rpy2 for R $R_VER: present ($RPY2_SPEC)"
else
    say "pip install '$RPY2_SPEC' (R $R_VER)"
    "$PY" -m pip install -q "$RPY2_SPEC"
fi

# --- 4. the R package --------------------------------------------------------
# The installed package records the venv's Python (MCBRIDGE_PYTHON at install
# time) so that R finds the engine from any working directory.
PY_ABS="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
HASH="$( { echo "$PY_ABS"; find r-package -type f ! -name '*.o' ! -name '*.so' -print0 |
          sort -z | xargs -0 sha256sum; } | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ] && r_has mcbridge; then
    say "R package mcbridge: up to date"
else
    lib_args=()
    if [ -n "${MCBRIDGE_R_LIB:-}" ]; then
        mkdir -p "$MCBRIDGE_R_LIB"
        lib_args=(--library="$MCBRIDGE_R_LIB")
    else
        first_lib="$(Rscript --vanilla -e 'cat(.libPaths()[1])')"
        if [ ! -w "$first_lib" ]; then
            user_lib="$(Rscript --vanilla -e 'cat(path.expand(Sys.getenv("R_LIBS_USER")))')"
            mkdir -p "$user_lib"
            lib_args=(--library="$user_lib")
        fi
    fi
    say "R CMD INSTALL r-package ${lib_args[*]:-}"
    MCBRIDGE_PYTHON="$PY_ABS" R CMD INSTALL --no-multiarch "${lib_args[@]}" r-package >/dev/null 2>"$ROOT/.setup-stamp-r.log" ||
        { cat "$ROOT/.setup-stamp-r.log" >&2; die "R CMD INSTALL r-package failed"; }
    rm -f "$ROOT/.setup-stamp-r.log"
    echo "$HASH" >"$STAMP"
    say "R package mcbridge: installed (engine: $PY_ABS)"
fi
say "done"
