#!/usr/bin/env bash
# Runs every test: Python (pytest) and R (testthat, with the real Python engine).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k metrics`.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -x .venv/bin/python ] || { echo "error: no .venv; run: bash scripts/setup.sh" >&2; exit 1; }
export MCBRIDGE_PYTHON="$ROOT/.venv/bin/python"
# pytest runs its test files in MCBRIDGE_TEST_WORKERS processes (pytest-xdist, one file per worker at a
# time so module fixtures are built once; default: the cores, at most 4). Most tests are Python-bound on
# tiny models, so 2 workers on 2 cores take about 0.6 of one worker's time. 1: a single process.
workers="${MCBRIDGE_TEST_WORKERS:-$(n=$(nproc 2>/dev/null || echo 1); echo $(( n < 4 ? n : 4 )))}"
case "$workers" in ''|*[!0-9]*|0) echo "error: MCBRIDGE_TEST_WORKERS must be a positive integer (got '$workers')" >&2; exit 2 ;; esac
if [ "$workers" -gt 1 ]; then parallel=(-n "$workers" --dist loadfile); else parallel=(-p no:xdist); fi
# Here R and Python are both set up: a missing side is a failure, not a skip.
export MCBRIDGE_TESTS_REQUIRE_PYTHON=true MCBRIDGE_TESTS_REQUIRE_R=true

echo "==> Python tests"
py_log="$(mktemp)"
.venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" tests "$@" 2>&1 | tee "$py_log"
py_rc=${PIPESTATUS[0]}
summary="$(grep -E ' in [0-9.]+s' "$py_log" | tail -1)"
py_passed=$(echo "$summary" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
py_failed=$(echo "$summary" | grep -Eo '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
rm -f "$py_log"

# The numeric tests (marked `numeric`) and those whose behaviour depends on
# what the CPU offers (marked `cpu`: bfloat16 detection, oneDNN's instruction
# set) again with the kernels capped at AVX2 (oneDNN's, NumPy's dispatched
# loops, OpenBLAS): a result or a decision that holds only with AVX-512 fails
# here on any machine, not just on an AVX2-only CPU (docs/RELIABILITY.md).
# Skipped when pytest arguments are given.
isa_rc=0; isa_passed=0; isa_failed=0
if [ $# -eq 0 ]; then
    echo "==> numeric and CPU-dependent Python tests again with the kernels capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2)"
    isa_log="$(mktemp)"
    ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell \
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL" \
        .venv/bin/python -m pytest -q -p no:cacheprovider "${parallel[@]}" tests -m "numeric or cpu" \
        --deselect tests/test_predict.py::test_mean_matches_slow_reference_loop 2>&1 | tee "$isa_log"
    isa_rc=${PIPESTATUS[0]}
    isa_summary="$(grep -E ' in [0-9.]+s' "$isa_log" | tail -1)"
    isa_passed=$(echo "$isa_summary" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
    isa_failed=$(echo "$isa_summary" | grep -Eo '[0-9]+ (failed|errors?)' | awk '{s+=$1} END {print s+0}')
    [ "$isa_rc" -ne 0 ] && [ "$isa_failed" = 0 ] && isa_failed=1
    rm -f "$isa_log"
fi

# R CMD check on the built package (its examples run on the real engine; the
# R tests run beside it, so --no-tests; the vignettes are knitted by
# tests/test_r_vignettes.py, so --ignore-vignettes). It runs in the background
# while the R tests run (each keeps about one core busy) and is reported after
# them. Errors or warnings fail; notes are printed.
check_dir=""
if [ -d r-package ] && [ "${MCBRIDGE_SKIP_R_CHECK:-}" != "true" ]; then
    check_dir="$(mktemp -d)"
    (cd "$check_dir" && R CMD build --no-build-vignettes "$ROOT/r-package" >build.log 2>&1 &&
        R CMD check --no-manual --no-tests --ignore-vignettes mcbridge_*.tar.gz >check.log 2>&1) &
    check_pid=$!
fi

r_rc=0; r_passed=0; r_failed=0
if [ -d r-package/tests/testthat ]; then
    echo "==> R tests"
    r_out="$(mktemp)"
    Rscript -e '
        res <- testthat::test_dir("r-package/tests/testthat", package = "mcbridge",
                                  load_package = "installed", stop_on_failure = FALSE)
        df <- as.data.frame(res)
        bad <- df$failed > 0 | df$error
        cat(sprintf("R_COUNTS %d %d\n", sum(!bad & !df$skipped), sum(bad)), file = commandArgs(TRUE)[1])
        if (any(bad)) quit(status = 1)
    ' "$r_out"
    r_rc=$?
    read -r _ r_passed r_failed < "$r_out" 2>/dev/null || { r_failed=1; r_rc=1; }
    rm -f "$r_out"
fi

check_rc=0
if [ -n "$check_dir" ]; then
    echo "==> R CMD check"
    wait "$check_pid" || true
    log="$check_dir/mcbridge.Rcheck/00check.log"
    if [ -f "$log" ]; then
        grep -E '^\* checking .*\.\.\. (NOTE|WARNING|ERROR)' -A8 "$log" || true
        status="$(grep -E '^Status:' "$check_dir/check.log" | tail -1)"
        echo "R CMD check: ${status:-no status}"
        echo "$status" | grep -qE 'ERROR|WARNING' && check_rc=1
        [ -z "$status" ] && check_rc=1
    else
        cat "$check_dir/build.log" "$check_dir/check.log" 2>/dev/null | tail -20
        check_rc=1
    fi
    rm -rf "$check_dir"
    if [ "$check_rc" -eq 0 ]; then r_passed=$((r_passed + 1)); else r_failed=$((r_failed + 1)); fi
fi

[ "$py_rc" -ne 0 ] && [ "${py_failed:-0}" = 0 ] && py_failed=1
echo
echo "Python: ${py_passed} passed, ${py_failed:-0} failed; numeric with AVX2 cap: ${isa_passed} passed, ${isa_failed} failed; R: ${r_passed} passed, ${r_failed} failed"
echo "$((py_passed + isa_passed + r_passed)) passed, $((${py_failed:-0} + isa_failed + r_failed)) failed"
[ "$py_rc" -eq 0 ] && [ "$isa_rc" -eq 0 ] && [ "$r_rc" -eq 0 ] && [ "$check_rc" -eq 0 ]
