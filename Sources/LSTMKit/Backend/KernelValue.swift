/// One argument of a kernel launch, in the kernel's order (`KernelArguments`).
enum KernelValue {
    case none
    case int(Int)
    case uint(UInt32)
    /// A 4-byte float on OpenCL (alpha, beta, p, ...); the CPU twin's scalar type.
    case float(Double)
    /// A buffer and its element offset: on OpenCL two arguments, `__global real *x, const int offX`.
    case view(BufferView)
    /// A whole buffer (offset 0): one argument, `__global real *x` (or `__global const int *lengths`).
    case mem(DeviceBuffer)
}
