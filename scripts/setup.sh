#!/usr/bin/env bash
# One command for a fresh machine: everything mcbridge needs, then `mcbridge demo`.
#   - system packages (apt, when available): Fashion-MNIST, R and its packages
#   - Python virtual environment at .venv with mcbridge installed (editable)
#   - the R package (scripts/setup_r.sh)
# Safe to run again: it only installs what is missing.
#
# Environment:
#   MCBRIDGE_TF=auto|cpu|gpu|none  TensorFlow wheel: auto keeps a TensorFlow already
#                                  in .venv, else installs tensorflow-cpu (default auto)
#   MCBRIDGE_SKIP_DEMO=1           set up only, do not run the demo
#   PYTHON=python3.11              interpreter for the venv (default python3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# 1. System packages -----------------------------------------------------------
if have_apt; then
    apt_install_missing dataset-fashion-mnist || warn "could not install dataset-fashion-mnist; the digits data will be used."
    # Java for the Spark tests (mcbridge[spark]); Debian 12 has OpenJDK 17.
    if ! command -v java >/dev/null 2>&1; then
        apt_install_missing openjdk-17-jre-headless || warn "could not install Java: the Spark tests will be skipped."
    fi
else
    warn "apt-get not available (or no root): skipping system packages. Fashion-MNIST: see README."
fi

# 2. Python --------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    step "creating the virtual environment .venv ($($PYTHON --version 2>&1))"
    "$PYTHON" -m venv .venv
fi
flavour="${MCBRIDGE_TF:-auto}"
if [ "$flavour" = auto ]; then
    if .venv/bin/python -m pip show -q tensorflow >/dev/null 2>&1 || \
       .venv/bin/python -m pip show -q tensorflow-cpu >/dev/null 2>&1; then
        flavour=none
    else
        flavour=cpu
    fi
fi
case "$flavour" in
    cpu) extras="cpu,test,spark" ;;
    gpu) extras="gpu,test,spark" ;;
    none) extras="test,spark" ;;
    *) die "MCBRIDGE_TF must be auto, cpu, gpu or none (got '$flavour')" ;;
esac
stamp=".venv/.mcbridge-setup"
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import mcbridge" 2>/dev/null; then
    step "installing mcbridge and its Python dependencies into .venv (extras: $extras)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # pip byte-compiles on one core; compileall does it on all of them (half the time here). The .pyc
    # files matter: where PYTHONDONTWRITEBYTECODE is set, Python never writes them itself.
    .venv/bin/python -m pip install --quiet --no-compile -e ".[$extras]"
    .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
        >/dev/null 2>&1 || true   # a few packages ship files that are not Python 3 (test data); pip skips them too
    # The Jupyter kernel "python3" of this venv runs this venv's Python (an absolute path, so
    # examples/quickstart.ipynb and its test use it even when started from another Jupyter).
    .venv/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mcbridge .venv)" >/dev/null
    echo "$want" > "$stamp"
else
    step "Python environment up to date"
fi

# 3. R ---------------------------------------------------------------------------
if [ -f scripts/setup_r.sh ]; then
    bash scripts/setup_r.sh
fi

# 4. The main job ----------------------------------------------------------------
if [ "${MCBRIDGE_SKIP_DEMO:-0}" != 1 ]; then
    step "running: mcbridge demo"
    .venv/bin/mcbridge demo
fi
step "setup done. Activate with: source .venv/bin/activate"
