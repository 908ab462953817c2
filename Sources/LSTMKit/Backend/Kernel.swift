/// The kernels both backends launch through `Backend.launch`, one table line each: the OpenCL kernel's name
/// (and its CPU twin's, CPU/CPUBackend+Launch.swift), its file, its arguments and its work size. Adding an
/// elementwise op: the kernel in its .cl file, its twin in CPUBackend+Launch.swift, a case and a line here.
/// B = batch, T = time steps, H = hidden size, P = projection size.
///
/// Not in the table (launched by hand, each for a reason given where it is launched): the gemm family (gemm.cl,
/// gemm_local.cl: K chunks, variants by transposition) and the streaming step (inference.cl `lstm_stream_step`: the
/// CPU's is a packed-weight policy with a scratch row, not a twin of the same arguments).
enum Kernel: Int, CaseIterable {
    // elementwise.cl
    case fill, transpose01, columnSum, dropout
    // gru_cell.cl, lstm_cell.cl
    case gruCellForward, gruCellBackward, lstmCellForward, lstmCellBackward
    // training.cl
    case addRowBias, activationForward, activationBackward, softmaxRows, softmaxBackwardRows, lossRows, metricRows
    case embeddingForward, embeddingBackward, gatherRows, axpby, mul, mergeDirections, mergeDirectionsBackward
    case sumSquares, sgdUpdate, adamUpdate, rmspropUpdate
    // lstm_variants.cl
    case lstmPeepholeGrad, lstmProjectionForward, lstmProjectionBackward
    case layerNormForward, layerNormBackward, layerNormParamGrad, lstmLayerNormCellForward, lstmLayerNormCellBackward
    // conv.cl
    case im2col, col2im, convBiasAct
    // pooling.cl
    case maxPoolForward, maxPoolBackward, maxPoolBackwardScatter, avgPoolForward, avgPoolBackward
    // inference.cl
    case lstmCellInfer, lstmStepInfer
    // lstm_persistent.cl
    case lstmSequenceForward

    struct Description: Sendable {
        let name: String, file: String
        /// The arguments in order, as in the kernel (a `view` is a buffer and its offset, two kernel arguments).
        let arguments: String
        /// The OpenCL NDRange: `dims` dimensions of the global size from the arguments and the tuning.
        let dims: Int
        let global: @Sendable (KernelArguments, OpenCLTuning) -> (Int, Int, Int)
        /// The program's defines, from the tuning (and from the arguments when `definesReadArguments`).
        let defines: @Sendable (KernelArguments, OpenCLTuning) -> [String: String]
        /// The work-group size (`dims` dimensions), or nil: the runtime chooses.
        var local: (@Sendable (KernelArguments, OpenCLTuning) -> (Int, Int, Int))? = nil
        /// True when `defines` reads the arguments (a program per shape: lstm_persistent.cl's per hidden size); false:
        /// the kernel is looked up once per backend.
        var definesReadArguments = false
    }

    /// The sum-of-squares reduction's work-group (training.cl `REDUCE_WG`): one group per launch.
    static let reduceGroup = 256

    private static let geometry = "int N, int H, int W, int C, int KH, int KW, int SH, int SW, int PT, int PL, int DH, int DW, int OH, int OW"
    private static let pool = "int N, int H, int W, int C, int PH, int PW, int SH, int SW, int PT, int PL, int OH, int OW"
    /// N*OH*OW*C and N*H*W*C of the pooling geometry (`PoolGeometry.outputCount`, `.inputCount`).
    private static func poolOutputs(_ a: KernelArguments) -> Int { a.int(0) * a.int(10) * a.int(11) * a.int(3) }
    private static func poolInputs(_ a: KernelArguments) -> Int { a.int(0) * a.int(1) * a.int(2) * a.int(3) }
    private static let clip = "float clip_value, mem norms, int num_norms, float max_norm"
    /// The layer-norm kernels of one work-group per row (argument 0: rows or B) over rows of argument 1 (N or H).
    private static let layerNormGlobal: @Sendable (KernelArguments, OpenCLTuning) -> (Int, Int, Int) =
        { a, t in (t.layerNormWorkGroup(units: a.int(1)), a.int(0), 1) }
    private static let layerNormLocal: @Sendable (KernelArguments, OpenCLTuning) -> (Int, Int, Int) =
        { a, t in (t.layerNormWorkGroup(units: a.int(1)), 1, 1) }
    private static let layerNormDefines: @Sendable (KernelArguments, OpenCLTuning) -> [String: String] =
        { a, t in t.layerNormDefines(units: a.int(1)) }

    static let table: [Description] = [
        // elementwise.cl
        Description(name: "fill", file: "elementwise.cl", arguments: "int n, float value, view x", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { $1.elementwiseDefines }),
        Description(name: "transpose01", file: "elementwise.cl", arguments: "int D0, int D1, int F, view src, view dst", dims: 3,
                    global: { a, _ in (a.int(2), a.int(1), a.int(0)) }, defines: { $1.elementwiseDefines }),
        Description(name: "column_sum", file: "elementwise.cl", arguments: "int M, int N, view x, int ld, float beta, view out", dims: 1,
                    global: { a, t in ((a.int(1) + t.columnVW - 1) / t.columnVW, 1, 1) }, defines: { $1.elementwiseDefines }),
        Description(name: "dropout", file: "elementwise.cl", arguments: "int n, float p, uint seed, view x, view y", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { $1.elementwiseDefines }),
        // gru_cell.cl
        Description(name: "gru_cell_forward", file: "gru_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gx, mem gh, view bias_ih, view bias_hh, int has_bias, mem hs, mem gates, view y, int ldy, "
                    + "int act, int ract", dims: 2, global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _, _ in [:] }),
        Description(name: "gru_cell_backward", file: "gru_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gates, mem hs, view dy, int lddy, mem dh, mem dgh, mem dgx, int act, int ract", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _, _ in [:] }),
        // lstm_cell.cl: CVW hidden units per work-item.
        Description(name: "lstm_cell_forward", file: "lstm_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gx, mem r, view bias_ih, view bias_hh, int has_bias, mem hs, mem cs, mem gates, "
                    + "view y, int ldy, float cell_clip, view peep, int has_peep, mem rmask, int has_rmask, mem hm, int write_y, "
                    + "int act, int ract", dims: 2,
                    global: { a, t in ((a.int(1) + t.cellVW - 1) / t.cellVW, a.int(0), 1) }, defines: { $1.cellDefines }),
        Description(name: "lstm_cell_backward", file: "lstm_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gates, mem cs, view dy, int lddy, mem dh, mem dc, mem dgs, mem dgt, float cell_clip, "
                    + "view peep, int has_peep, mem rmask, int has_rmask, int act, int ract", dims: 2,
                    global: { a, t in ((a.int(1) + t.cellVW - 1) / t.cellVW, a.int(0), 1) }, defines: { $1.cellDefines }),
        // training.cl
        Description(name: "add_row_bias", file: "training.cl", arguments: "int rows, int cols, view bias, view y", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _, _ in [:] }),
        Description(name: "activation_forward", file: "training.cl", arguments: "int kind, int n, view x, view y", dims: 1,
                    global: { a, _ in (a.int(1), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "activation_backward", file: "training.cl", arguments: "int kind, int n, view y, view dy, view dx", dims: 1,
                    global: { a, _ in (a.int(1), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "softmax_rows", file: "training.cl", arguments: "int rows, int cols, view x, view y", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "softmax_backward_rows", file: "training.cl", arguments: "int rows, int cols, view y, view dy, view dx", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "loss_rows", file: "training.cl",
                    arguments: "int kind, int rows, int cols, view pred, view target, float scale, mem row_loss, view grad", dims: 1,
                    global: { a, _ in (a.int(1), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "metric_rows", file: "training.cl", arguments: "int kind, int rows, int cols, view pred, view target, mem out",
                    dims: 1, global: { a, _ in (a.int(1), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "embedding_forward", file: "training.cl", arguments: "int n, int dim, view ids, view table, mem out", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _, _ in [:] }),
        Description(name: "embedding_backward", file: "training.cl", arguments: "int n, int dim, view ids, mem dout, view dtable", dims: 1,
                    global: { a, _ in (a.int(1), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "gather_rows", file: "training.cl", arguments: "int count, int row_size, mem indices, mem src, mem dst", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _, _ in [:] }),
        Description(name: "axpby", file: "training.cl", arguments: "int n, float a, view x, float b, view y", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "mul", file: "training.cl", arguments: "int n, view x, view y, view out", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "merge_directions", file: "training.cl", arguments: "int mode, int rows, int H, mem y, mem out", dims: 2,
                    global: { a, _ in (a.int(2), a.int(1), 1) }, defines: { _, _ in [:] }),
        Description(name: "merge_directions_backward", file: "training.cl", arguments: "int mode, int rows, int H, mem y, mem dout, mem dy",
                    dims: 2, global: { a, _ in (a.int(2), a.int(1), 1) }, defines: { _, _ in [:] }),
        Description(name: "sum_squares", file: "training.cl", arguments: "int n, view x, mem out, int index", dims: 1,
                    global: { _, _ in (reduceGroup, 1, 1) }, defines: { _, _ in ["REDUCE_WG": "\(reduceGroup)"] },
                    local: { _, _ in (reduceGroup, 1, 1) }),
        Description(name: "sgd_update", file: "training.cl", arguments: "int n, mem p, mem grad, mem velocity, float lr, float momentum, "
                    + "int nesterov, float weight_decay, " + clip, dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "adam_update", file: "training.cl", arguments: "int n, mem p, mem grad, mem m, mem v, float decay_factor, "
                    + "float one_minus_beta1, float beta2, float one_minus_beta2, float eps, float weight_decay, int decoupled, "
                    + "float step_size, float bias_correction2_sqrt, " + clip, dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "rmsprop_update", file: "training.cl", arguments: "int n, mem p, mem grad, mem square_avg, float lr, float alpha, "
                    + "float one_minus_alpha, float eps, float weight_decay, " + clip, dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { _, _ in [:] }),
        // lstm_variants.cl: PVW units per work-item.
        Description(name: "lstm_peephole_grad", file: "lstm_variants.cl", arguments: "int rows, int B, int H, mem dgs, mem cs, view dpeep",
                    dims: 1, global: { a, t in ((a.int(2) + t.columnVW - 1) / t.columnVW, 1, 1) }, defines: { $1.variantDefines }),
        Description(name: "lstm_projection_forward", file: "lstm_variants.cl", arguments: "int B, int P, int T, int step, int reverse, "
                    + "mem lengths, mem hs, view y, int ldy, mem rmask, int has_rmask, mem hm", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { $1.variantDefines }),
        Description(name: "lstm_projection_backward", file: "lstm_variants.cl", arguments: "int B, int P, int T, int step, int reverse, "
                    + "mem lengths, view dy, int lddy, mem dh, mem dhs, mem rmask, int has_rmask", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { $1.variantDefines }),
        // lstm_variants.cl layer norm: one work-group of LN_WG per row (rows of N; the cells' rows are batch rows of H),
        // LN_WG from the row length (`OpenCLTuning.layerNormWorkGroup(units:)`, argument 1), so a program per length.
        Description(name: "layer_norm_forward", file: "lstm_variants.cl", arguments: "int rows, int N, mem x, mem params, int offW, "
                    + "int offB, mem y, mem stats", dims: 2, global: layerNormGlobal, defines: layerNormDefines, local: layerNormLocal,
                    definesReadArguments: true),
        Description(name: "layer_norm_backward", file: "lstm_variants.cl", arguments: "int rows, int N, mem dy, mem x, mem stats, "
                    + "mem params, int offW, mem dx", dims: 2, global: layerNormGlobal, defines: layerNormDefines, local: layerNormLocal,
                    definesReadArguments: true),
        // PVW columns per work-item (LN_WG 1: the other lstm_variants.cl kernels' program).
        Description(name: "layer_norm_param_grad", file: "lstm_variants.cl", arguments: "int rows, int N, mem dy, view x, mem stats, "
                    + "int stride, int offS, mem grads, int offDw, int offDb", dims: 1,
                    global: { a, t in ((a.int(1) + t.columnVW - 1) / t.columnVW, 1, 1) }, defines: { $1.variantDefines }),
        Description(name: "lstm_ln_cell_forward", file: "lstm_variants.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gxn, mem r, mem params, int offBih, int offBhh, int has_bias, int offHhW, int offHhB, "
                    + "int offCW, int offCB, int offPeep, int has_peep, mem hs, mem cs, mem gates, mem stats, view y, int ldy, "
                    + "float cell_clip, mem rmask, int has_rmask, mem hm, int write_y", dims: 2,
                    global: layerNormGlobal, defines: layerNormDefines, local: layerNormLocal, definesReadArguments: true),
        Description(name: "lstm_ln_cell_backward", file: "lstm_variants.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem params, int offHhW, int offCW, int offCB, int offPeep, int has_peep, mem gates, mem cs, "
                    + "mem r, mem stats, view dy, int lddy, mem dh, mem dc, mem dgs, mem dAs, mem dAt, mem dcn, float cell_clip, "
                    + "mem rmask, int has_rmask", dims: 2,
                    global: layerNormGlobal, defines: layerNormDefines, local: layerNormLocal, definesReadArguments: true),
        // conv.cl: im2col one work-item per (patch column, row), col2im one per pixel of x.
        Description(name: "im2col", file: "conv.cl", arguments: geometry + ", view x, view cols", dims: 2,
                    global: { a, _ in (a.int(3) * a.int(4) * a.int(5), a.int(0) * a.int(12) * a.int(13), 1) }, defines: { _, _ in [:] }),
        Description(name: "col2im", file: "conv.cl", arguments: geometry + ", view dcols, view dx", dims: 1,
                    global: { a, _ in (a.int(0) * a.int(1) * a.int(2) * a.int(3), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "conv_bias_act", file: "conv.cl", arguments: "int kind, int rows, int cols, int has_bias, view bias, view y",
                    dims: 2, global: { a, _ in (a.int(2), a.int(1), 1) }, defines: { _, _ in [:] }),
        // pooling.cl: one work-item per output element (forward, the scatter) or per element of x (the gathers).
        Description(name: "max_pool_forward", file: "pooling.cl", arguments: pool + ", view x, view y, view arg", dims: 1,
                    global: { a, _ in (poolOutputs(a), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "max_pool_backward", file: "pooling.cl", arguments: pool + ", view dy, view arg, view dx", dims: 1,
                    global: { a, _ in (poolInputs(a), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "max_pool_backward_scatter", file: "pooling.cl", arguments: pool + ", view dy, view arg, view dx", dims: 1,
                    global: { a, _ in (poolOutputs(a), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "avg_pool_forward", file: "pooling.cl", arguments: pool + ", view x, view y", dims: 1,
                    global: { a, _ in (poolOutputs(a), 1, 1) }, defines: { _, _ in [:] }),
        Description(name: "avg_pool_backward", file: "pooling.cl", arguments: pool + ", view dy, view dx", dims: 1,
                    global: { a, _ in (poolInputs(a), 1, 1) }, defines: { _, _ in [:] }),
        // inference.cl, built with lstm_cell.cl's defines (the same bits as the training cell).
        Description(name: "lstm_cell_infer", file: "inference.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gx, mem r, view bias_ih, view bias_hh, int has_bias, mem h, mem c, int offS, "
                    + "view y, int ldy, int write_y, float cell_clip, view peep, int has_peep", dims: 2,
                    global: { a, t in ((a.int(1) + t.cellVW - 1) / t.cellVW, a.int(0), 1) }, defines: { $1.cellDefines }),
        // The step with the recurrent product fused in (CPU-type devices, H <= 128): FTM rows x CVW units of four
        // gates per work-item; a work-group holds the row blocks of one column panel (the same columns of W_hh^T).
        Description(name: "lstm_step_infer", file: "inference.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gx, view whhT, view bias_ih, view bias_hh, int has_bias, mem hIn, mem hOut, mem c, "
                    + "int offS, view y, int ldy, int write_y, float cell_clip, view peep, int has_peep", dims: 2,
                    global: { a, t in ((a.int(1) + t.cellVW - 1) / t.cellVW, (a.int(0) + t.stepRows - 1) / t.stepRows, 1) },
                    defines: { $1.stepDefines },
                    local: { a, t in (1, t.stepGroupRows(rowBlocks: (a.int(0) + t.stepRows - 1) / t.stepRows), 1) }),
        // lstm_persistent.cl: one work-group of WG per batch row; W_hh in local memory when [4H, H] fits the device.
        Description(name: "lstm_sequence_forward", file: "lstm_persistent.cl", arguments: "int B, int H, int T, int reverse, "
                    + "mem lengths, mem gx, view whh, view bias_ih, view bias_hh, int has_bias, mem hs, mem cs, mem gates, "
                    + "view y, int ldy, float cell_clip", dims: 1,
                    global: { a, t in (a.int(0) * t.persistentWorkGroup(hidden: a.int(1)), 1, 1) },
                    defines: { a, t in t.persistentDefines(hidden: a.int(1)) },
                    local: { a, t in (t.persistentWorkGroup(hidden: a.int(1)), 1, 1) }, definesReadArguments: true),
    ]

    var description: Description { Self.table[rawValue] }
    var name: String { description.name }
}
