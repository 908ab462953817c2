import COpenCL

/// The convolution and pooling primitives on OpenCL: each is one launch of a Kernels/conv.cl or pooling.cl kernel.
extension OpenCLBackend: ConvBackend {
    private func mem(_ v: BufferView) -> [KernelArg] { [.mem((v.buffer as! CLBuffer).mem), .int(v.offset)] }
    private func run(_ name: String, file: String, _ args: [KernelArg], global: [Int]) throws {
        try context.launch(try context.kernel(name, file: file), args, global: global)
    }

    func im2col(_ g: ConvGeometry, x: BufferView, cols: BufferView) throws {
        try run("im2col", file: "conv.cl", g.arguments.map { .int($0) } + mem(x) + mem(cols), global: [g.patch, g.rows])
    }
    func col2im(_ g: ConvGeometry, dcols: BufferView, dx: BufferView) throws {
        try run("col2im", file: "conv.cl", g.arguments.map { .int($0) } + mem(dcols) + mem(dx), global: [g.n * g.h * g.w * g.c])
    }
    func convBiasAct(_ kind: Activation, rows: Int, cols: Int, bias: BufferView?, y: BufferView) throws {
        try run("conv_bias_act", file: "conv.cl", [.int(kind.kernelKind), .int(rows), .int(cols), .int(bias == nil ? 0 : 1)]
                + mem(bias ?? y) + mem(y), global: [cols, rows])
    }
    func maxPoolForward(_ g: PoolGeometry, x: BufferView, y: BufferView, arg: BufferView) throws {
        try run("max_pool_forward", file: "pooling.cl", g.arguments.map { .int($0) } + mem(x) + mem(y) + mem(arg), global: [g.outputCount])
    }
    func maxPoolBackward(_ g: PoolGeometry, dy: BufferView, arg: BufferView, dx: BufferView) throws {
        if g.windowsDisjoint {
            try fill(dx, count: g.inputCount, value: 0)
            try run("max_pool_backward_scatter", file: "pooling.cl", g.arguments.map { .int($0) } + mem(dy) + mem(arg) + mem(dx), global: [g.outputCount])
        } else {
            try run("max_pool_backward", file: "pooling.cl", g.arguments.map { .int($0) } + mem(dy) + mem(arg) + mem(dx), global: [g.inputCount])
        }
    }
    func avgPoolForward(_ g: PoolGeometry, x: BufferView, y: BufferView) throws {
        try run("avg_pool_forward", file: "pooling.cl", g.arguments.map { .int($0) } + mem(x) + mem(y), global: [g.outputCount])
    }
    func avgPoolBackward(_ g: PoolGeometry, dy: BufferView, dx: BufferView) throws {
        try run("avg_pool_backward", file: "pooling.cl", g.arguments.map { .int($0) } + mem(dy) + mem(dx), global: [g.inputCount])
    }
}
