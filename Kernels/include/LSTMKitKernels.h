#ifndef LSTMKIT_KERNELS_H
#define LSTMKIT_KERNELS_H
/// The OpenCL C source of one file in Kernels/ ("gemm.cl", ...), compiled into the binary; NULL if unknown.
const char *lstmkit_kernel_source(const char *name);
#endif
