// cblas from OpenBLAS (Debian: libopenblas-dev installs /usr/include/<triple>/cblas.h).
#ifndef LSTMKIT_CBLAS_SHIM_H
#define LSTMKIT_CBLAS_SHIM_H
#include <cblas.h>
#include <stddef.h>

// A DYNAMIC_ARCH OpenBLAS (Debian's libopenblas0-pthread is one) names the kernel set it chose at load ("Haswell",
// "SkylakeX", "Cooperlake", ..., or what OPENBLAS_CORETYPE forced). Weak: a cblas without it still links.
extern char *gotoblas_corename(void) __attribute__((weak));

/// OpenBLAS's kernel set (for benchmark reports), or NULL when this cblas does not say.
static inline const char *lstmkit_openblas_corename(void) { return gotoblas_corename ? gotoblas_corename() : NULL; }
#endif
