/// The kernels both backends launch through `Backend.launch`, one table line each: the OpenCL kernel's name
/// (and its CPU twin's, CPU/CPUBackend+Launch.swift), its file, its arguments and its work size. Adding an
/// elementwise op: the kernel in its .cl file, its twin in CPUBackend+Launch.swift, a case and a line here.
/// B = batch, T = time steps, H = hidden size.
enum Kernel: Int, CaseIterable {
    case fill, transpose01, columnSum, dropout, gruCellForward, gruCellBackward

    struct Description: Sendable {
        let name: String, file: String
        /// The arguments in order, as in the kernel (a `view` is a buffer and its offset).
        let arguments: String
        /// The OpenCL NDRange: `dims` dimensions of the global size from the arguments and the tuning.
        let dims: Int
        let global: @Sendable (KernelArguments, OpenCLTuning) -> (Int, Int, Int)
        /// The program's tuning defines.
        let defines: @Sendable (OpenCLTuning) -> [String: String]
    }

    static let table: [Description] = [
        Description(name: "fill", file: "elementwise.cl", arguments: "int n, float value, view x", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { $0.elementwiseDefines }),
        Description(name: "transpose01", file: "elementwise.cl", arguments: "int D0, int D1, int F, view src, view dst", dims: 3,
                    global: { a, _ in (a.int(2), a.int(1), a.int(0)) }, defines: { $0.elementwiseDefines }),
        Description(name: "column_sum", file: "elementwise.cl", arguments: "int M, int N, view x, int ld, float beta, view out", dims: 1,
                    global: { a, t in ((a.int(1) + t.columnVW - 1) / t.columnVW, 1, 1) }, defines: { $0.elementwiseDefines }),
        Description(name: "dropout", file: "elementwise.cl", arguments: "int n, float p, uint seed, view x, view y", dims: 1,
                    global: { a, _ in (a.int(0), 1, 1) }, defines: { $0.elementwiseDefines }),
        Description(name: "gru_cell_forward", file: "gru_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gx, mem gh, view bias_ih, view bias_hh, int has_bias, mem hs, mem gates, view y, int ldy, "
                    + "int act, int ract", dims: 2, global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _ in [:] }),
        Description(name: "gru_cell_backward", file: "gru_cell.cl", arguments: "int B, int H, int T, int step, int reverse, "
                    + "mem lengths, mem gates, mem hs, view dy, int lddy, mem dh, mem dgh, mem dgx, int act, int ract", dims: 2,
                    global: { a, _ in (a.int(1), a.int(0), 1) }, defines: { _ in [:] }),
    ]

    var description: Description { Self.table[rawValue] }
    var name: String { description.name }
}
