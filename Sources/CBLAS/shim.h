// cblas from OpenBLAS (Debian: libopenblas-dev installs /usr/include/<triple>/cblas.h).
#ifndef LSTMKIT_CBLAS_SHIM_H
#define LSTMKIT_CBLAS_SHIM_H
#include <cblas.h>
#endif
