import COpenCL

/// The pooling primitives on OpenCL: each is one launch of a Kernels/pooling.cl kernel (conv.cl's are in the table:
/// `ConvBackend`'s extension).
extension OpenCLBackend: ConvBackend {
    private func mem(_ v: BufferView) -> [KernelArg] { [.mem((v.buffer as! CLBuffer).mem), .int(v.offset)] }
    private func run(_ name: String, file: String, _ args: [KernelArg], global: [Int]) throws {
        try context.launch(try context.kernel(name, file: file), args, global: global)
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
