#ifndef LSTMKIT_KERNELS_H
#define LSTMKIT_KERNELS_H
/// The OpenCL C source of one file in Kernels/ ("gemm.cl", ...), compiled into the binary; NULL if unknown.
const char *lstmkit_kernel_source(const char *name);
/// How many .cl files are embedded, and the name of the i-th (0 <= i < count; NULL otherwise).
int lstmkit_kernel_file_count(void);
const char *lstmkit_kernel_file_name(int i);
#endif
