/// The geometry of one 2-D convolution over channels-last frames, as the kernels of Kernels/conv.cl take it.
/// x [N, H, W, C], weight [O, C, KH, KW] (PyTorch's layout), y [N, OH, OW, O]; see conv.cl for the index maps.
struct ConvGeometry: Equatable {
    var n: Int, h: Int, w: Int, c: Int
    var kh: Int, kw: Int
    var sh: Int, sw: Int
    var padTop: Int, padLeft: Int
    var dh: Int, dw: Int
    var oh: Int, ow: Int
    /// The kernels' geometry arguments, in their order: N, H, W, C, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW.
    var arguments: [Int] { [n, h, w, c, kh, kw, sh, sw, padTop, padLeft, dh, dw, oh, ow] }
    /// Rows of the im2col matrix and of the output: N*OH*OW.
    var rows: Int { n * oh * ow }
    /// Columns of the im2col matrix: C*KH*KW.
    var patch: Int { c * kh * kw }
    /// True when cols is x itself (1x1 kernel, stride 1, no padding): im2col and col2im are skipped.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0 && oh == h && ow == w }
}

/// The geometry of one 2-D pooling over channels-last frames (Kernels/pooling.cl): x [N, H, W, C] -> y [N, OH, OW, C].
struct PoolGeometry: Equatable {
    var n: Int, h: Int, w: Int, c: Int
    var ph: Int, pw: Int
    var sh: Int, sw: Int
    var padTop: Int, padLeft: Int
    var oh: Int, ow: Int
    /// The kernels' geometry arguments, in their order: N, H, W, C, PH, PW, SH, SW, PT, PL, OH, OW.
    var arguments: [Int] { [n, h, w, c, ph, pw, sh, sw, padTop, padLeft, oh, ow] }
    var inputCount: Int { n * h * w * c }
    var outputCount: Int { n * oh * ow * c }
    /// No two windows share a pixel (strides >= pool): the max pool's backward may scatter (`max_pool_backward_scatter`).
    var windowsDisjoint: Bool { sh >= ph && sw >= pw }
}

/// The convolution and pooling primitives. Each is one kernel of Kernels/conv.cl or Kernels/pooling.cl with a CPU
/// twin of the same name and argument order in CPU/CPUConvKernels.swift, a kernel of the table (`Kernel`, the
/// extension below) launched through `Backend.launch` on both devices. All only enqueue work. The FLOPs of a
/// convolution run in the backend's `gemm` (see `Conv2D`).
protocol ConvBackend: Backend {}

extension ConvBackend {
    /// cols [N*OH*OW, C*KH*KW] = the patches of x [N, H, W, C].
    func im2col(_ g: ConvGeometry, x: BufferView, cols: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(x)); a.append(.view(cols))
        try launch(.im2col, a)
    }
    /// dx [N, H, W, C] = the sum of dcols [N*OH*OW, C*KH*KW] over every patch that holds each pixel (overwrites dx).
    func col2im(_ g: ConvGeometry, dcols: BufferView, dx: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(dcols)); a.append(.view(dx))
        try launch(.col2im, a)
    }
    /// y [rows, cols] = act(y + bias) in place (the gemm's epilogue); bias [cols] or nil. `kind` relu/tanh/sigmoid/linear.
    func convBiasAct(_ kind: Activation, rows: Int, cols: Int, bias: BufferView?, y: BufferView) throws {
        var a = KernelArguments(); a.append(.int(kind.kernelKind)); a.append(.int(rows)); a.append(.int(cols))
        a.append(.int(bias == nil ? 0 : 1)); a.append(.view(bias ?? y)); a.append(.view(y))
        try launch(.convBiasAct, a)
    }
    /// y, arg [N, OH, OW, C]: the window maxima and their positions.
    func maxPoolForward(_ g: PoolGeometry, x: BufferView, y: BufferView, arg: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(x)); a.append(.view(y)); a.append(.view(arg))
        try launch(.maxPoolForward, a)
    }
    /// dx [N, H, W, C] (overwritten) from dy and the positions of `maxPoolForward`: `max_pool_backward`, or `fill` +
    /// `max_pool_backward_scatter` when `g.windowsDisjoint`.
    func maxPoolBackward(_ g: PoolGeometry, dy: BufferView, arg: BufferView, dx: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(dy)); a.append(.view(arg)); a.append(.view(dx))
        if g.windowsDisjoint {
            try fill(dx, count: g.inputCount, value: 0)
            try launch(.maxPoolBackwardScatter, a)
        } else {
            try launch(.maxPoolBackward, a)
        }
    }
    /// y [N, OH, OW, C]: the window means over the pixels inside the frame.
    func avgPoolForward(_ g: PoolGeometry, x: BufferView, y: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(x)); a.append(.view(y))
        try launch(.avgPoolForward, a)
    }
    /// dx [N, H, W, C] (overwritten) from dy.
    func avgPoolBackward(_ g: PoolGeometry, dy: BufferView, dx: BufferView) throws {
        var a = KernelArguments(); a.append(g); a.append(.view(dy)); a.append(.view(dx))
        try launch(.avgPoolBackward, a)
    }
}

extension KernelArguments {
    /// The 14 geometry arguments of the conv.cl kernels, in their order (`ConvGeometry.arguments`).
    mutating func append(_ g: ConvGeometry) {
        append(.int(g.n)); append(.int(g.h)); append(.int(g.w)); append(.int(g.c)); append(.int(g.kh)); append(.int(g.kw))
        append(.int(g.sh)); append(.int(g.sw)); append(.int(g.padTop)); append(.int(g.padLeft)); append(.int(g.dh)); append(.int(g.dw))
        append(.int(g.oh)); append(.int(g.ow))
    }
    /// The 12 geometry arguments of the pooling.cl kernels, in their order (`PoolGeometry.arguments`).
    mutating func append(_ g: PoolGeometry) {
        append(.int(g.n)); append(.int(g.h)); append(.int(g.w)); append(.int(g.c)); append(.int(g.ph)); append(.int(g.pw))
        append(.int(g.sh)); append(.int(g.sw)); append(.int(g.padTop)); append(.int(g.padLeft)); append(.int(g.oh)); append(.int(g.ow))
    }
}

extension BenchmarkHooks {
    /// One training step of a compiled `Sequential` on a batch already on its device, as `fit` runs it: zero the
    /// gradients, forward, the fused loss (its per-sample values read back for the NaN check, as in `fit`), backward,
    /// the optimizer update. For lstm-bench's conv-lstm preset (Benchmarks/lstm-bench/ConvBench.swift).
    @_spi(Benchmark) public static func trainStep(_ model: Sequential, x: Tensor, y: Tensor) throws {
        _ = try model.trainStep(MaskedTensor(x), y, epoch: 1, step: 1)
    }
}
