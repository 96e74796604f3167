// Fast paths for the large arrays mcbridge moves into R.
//
// R has no float32 type, so every MC sample cube arrives as a fresh double
// vector twice the size of the Arrow buffer. Two costs dominate that: the
// kernel's page faults on the fresh vector (4 KiB at a time) and, in a
// generic converter, a per-element type dispatch. Here the destination is
// advised to use transparent huge pages before it is first touched (Linux;
// what glibc does itself with GLIBC_TUNABLES=glibc.malloc.hugetlb=1), and
// the widening is one plain loop the compiler vectorises.

#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <stdint.h>
#include <string.h>

#include <nanoarrow/r.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

// Ask for huge pages on the 2 MiB-aligned interior of [p, p + bytes).
static void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = (uintptr_t)2 << 20;
  if (bytes < 2 * huge) return;
  uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t end = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (end > start) madvise((void*)start, end - start, MADV_HUGEPAGE);  // advice only
#else
  (void)p;
  (void)bytes;
#endif
}

static SEXP alloc_doubles(R_xlen_t n) {
  SEXP out = PROTECT(Rf_allocVector(REALSXP, n));
  advise_huge_pages(REAL(out), (size_t)n * sizeof(double));
  UNPROTECT(1);
  return out;
}

// A float32 Arrow array without nulls (format "f") -> an R double vector.
// The R caller has checked the schema (format "f") and the null count; here
// the struct itself is checked before any buffer is read: buffer count,
// non-negative length and offset without overflow, a data buffer, no nulls.
// (Buffer sizes are not part of the C data interface; nanoarrow's IPC reader
// has checked them against the message body for data read from files.)
SEXP mcb_float32_to_double(SEXP array_xptr) {
  struct ArrowArray* array = nanoarrow_array_from_xptr(array_xptr);
  if (array->release == NULL) Rf_error("mcbridge: the Arrow array was released.");
  if (array->n_buffers != 2 || array->null_count > 0 || array->length < 0 ||
      array->offset < 0) {
    Rf_error("mcbridge: expected a float32 Arrow array without nulls.");
  }
  if (array->null_count < 0 && array->buffers != NULL && array->buffers[0] != NULL) {
    Rf_error("mcbridge: the Arrow array has a validity bitmap (nulls are not allowed).");
  }
  if (array->length > (int64_t)R_XLEN_T_MAX || array->offset > INT64_MAX - array->length) {
    Rf_error("mcbridge: the Arrow array is too long for R.");
  }
  R_xlen_t n = (R_xlen_t)array->length;
  const float* src = NULL;
  if (n > 0) {
    if (array->buffers == NULL || array->buffers[1] == NULL) {
      Rf_error("mcbridge: the Arrow array has no data buffer.");
    }
    src = (const float*)array->buffers[1] + array->offset;
  }
  SEXP out = PROTECT(alloc_doubles(n));
  double* dst = REAL(out);
  for (R_xlen_t i = 0; i < n; i++) dst[i] = (double)src[i];
  UNPROTECT(1);
  return out;
}

// Mean and unbiased variance over the last axis of a double array with
// dim c(cells..., samples): list(mean, variance), each of length `cells`.
// Two passes, as R's var(); NA/NaN propagate; variance is NA for 1 sample.
SEXP mcb_mean_var(SEXP samples, SEXP n_samples_) {
  if (TYPEOF(samples) != REALSXP) Rf_error("mcbridge: `samples` must be a double array.");
  R_xlen_t s = (R_xlen_t)Rf_asInteger(n_samples_);
  R_xlen_t total = XLENGTH(samples);
  if (s < 1 || total % s != 0) Rf_error("mcbridge: the sample count does not divide the array.");
  R_xlen_t cells = total / s;
  const double* x = REAL(samples);
  SEXP mean = PROTECT(Rf_allocVector(REALSXP, cells));
  SEXP var = PROTECT(Rf_allocVector(REALSXP, cells));
  double* m = REAL(mean);
  double* v = REAL(var);
  memset(m, 0, (size_t)cells * sizeof(double));
  memset(v, 0, (size_t)cells * sizeof(double));
  for (R_xlen_t j = 0; j < s; j++) {
    const double* slice = x + j * cells;
    for (R_xlen_t p = 0; p < cells; p++) m[p] += slice[p];
  }
  for (R_xlen_t p = 0; p < cells; p++) m[p] /= (double)s;
  if (s < 2) {
    for (R_xlen_t p = 0; p < cells; p++) v[p] = NA_REAL;
  } else {
    for (R_xlen_t j = 0; j < s; j++) {
      const double* slice = x + j * cells;
      for (R_xlen_t p = 0; p < cells; p++) {
        double d = slice[p] - m[p];
        v[p] += d * d;
      }
    }
    for (R_xlen_t p = 0; p < cells; p++) v[p] /= (double)(s - 1);
  }
  SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(out, 0, mean);
  SET_VECTOR_ELT(out, 1, var);
  UNPROTECT(3);
  return out;
}

static const R_CallMethodDef call_methods[] = {
    {"mcb_float32_to_double", (DL_FUNC)&mcb_float32_to_double, 1},
    {"mcb_mean_var", (DL_FUNC)&mcb_mean_var, 2},
    {NULL, NULL, 0}};

void R_init_mcbridge(DllInfo* dll) {
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
}
