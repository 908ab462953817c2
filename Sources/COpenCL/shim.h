// OpenCL 1.2 API: the subset every vendor (PoCL, NVIDIA, AMD, Intel) ships, without deprecation warnings.
#ifndef LSTMKIT_COPENCL_SHIM_H
#define LSTMKIT_COPENCL_SHIM_H
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#endif
