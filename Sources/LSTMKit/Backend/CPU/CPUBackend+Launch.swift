/// The CPU twins of the table's kernels (`Kernel`), by the same names and argument order: the switch is exhaustive,
/// so a kernel without its twin does not compile. Profiled under the kernel's name.
extension CPUBackend {
    func launch(_ kernel: Kernel, _ a: KernelArguments) throws {
        timed(kernel.name) {
            switch kernel {
            case .fill: CPUKernels.fill(a.int(0), S(a.float(1)), ptr(a.view(2)))
            case .transpose01: CPUKernels.transpose01(a.int(0), a.int(1), a.int(2), ptr(a.view(3)), ptr(a.view(4)))
            case .columnSum: CPUKernels.column_sum(a.int(0), a.int(1), ptr(a.view(2)), a.int(3), S(a.float(4)), ptr(a.view(5)))
            case .dropout: CPUKernels.dropout(a.int(0), Float(a.float(1)), a.uint(2), ptr(a.view(3)), ptr(a.view(4)))
            case .gruCellForward:
                let bias = a.int(10) == 1
                CPUGRUKernels.gru_cell_forward(a.int(0), a.int(1), a.int(2), a.int(3), a.int(4) == 1, lengths(a.buffer(5)),
                                               ptr(a.view(6)), ptr(a.view(7)), bias ? UnsafePointer(ptr(a.view(8))) : nil,
                                               bias ? UnsafePointer(ptr(a.view(9))) : nil, ptr(a.view(11)), ptr(a.view(12)),
                                               ptr(a.view(13)), a.int(14), a.int(15), a.int(16))
            case .gruCellBackward:
                CPUGRUKernels.gru_cell_backward(a.int(0), a.int(1), a.int(2), a.int(3), a.int(4) == 1, lengths(a.buffer(5)),
                                                ptr(a.view(6)), ptr(a.view(7)), ptr(a.view(8)), a.int(9), ptr(a.view(10)),
                                                ptr(a.view(11)), ptr(a.view(12)), a.int(13), a.int(14))
            }
        }
    }
}
