import CLSTMCell
import CSmallGemm
import Foundation

/// Every `LSTMKIT_*` environment variable that LSTMKit, its tools and its tests read: one table, one way to read.
/// The README's "Settings" table lists the same names (`SettingsTests` checks both against the sources).
/// A bad value is warned about once per process on stderr (`lstmkit: warning: LSTMKIT_X="v" is invalid (...);
/// using ...`) and the default is used, on the CPU and the OpenCL paths alike. The C libraries read no
/// environment: `Settings.applyToC` hands them their values through setters.
public enum Settings {
    /// Who reads a setting.
    public enum Scope: String, Sendable { case library, openCLTuning = "OpenCL tuning", test = "test/CI" }

    public struct Entry: Sendable {
        public let name: String
        /// The accepted values, as the README shows them.
        public let type: String
        /// The value used when the variable is unset or invalid.
        public let defaultValue: String
        public let scope: Scope
        public let doc: String
    }

    public static let table: [Entry] = [
        // Library
        Entry(name: "LSTMKIT_DEVICE", type: "device spec", defaultValue: "any", scope: .library,
              doc: "The device of `Device.fromEnvironment()`: cpu, opencl, opencl:N, any (validated by `Device.named`, which throws)."),
        Entry(name: "LSTMKIT_CPU_THREADS", type: "integer 1...63", defaultValue: "all cores", scope: .library,
              doc: "Threads of the CPU worker pool."),
        Entry(name: "LSTMKIT_CPU_CHUNKS", type: "integer >= 1", defaultValue: "4", scope: .library,
              doc: "Chunks per thread of a split CPU kernel (a thread that finishes takes a slower one's)."),
        Entry(name: "LSTMKIT_CPU_PARALLEL_MIN", type: "integer >= 0", defaultValue: "4096", scope: .library,
              doc: "Below this many elements (B * H) per step a CPU cell kernel runs on one thread."),
        Entry(name: "LSTMKIT_CPU_GEMM_SPLIT_MIN", type: "integer >= 0", defaultValue: "1000000", scope: .library,
              doc: "Below this many multiply-adds a CPU gemm runs on one thread."),
        Entry(name: "LSTMKIT_CPU_SMALL_GEMM", type: "0 or 1", defaultValue: "1", scope: .library,
              doc: "0 turns off CSmallGemm (the small-M gemm, the packed step products and the packed big products): cblas runs every product."),
        Entry(name: "LSTMKIT_CPU_PACKED_GEMM", type: "0 or 1", defaultValue: "1", scope: .library,
              doc: "0 sends big float32 products (input projections, weight gradients) to cblas instead of the packed kernel (CSmallGemm)."),
        Entry(name: "LSTMKIT_CPU_ISA", type: "baseline, avx2 or avx512f", defaultValue: "the best the CPU has", scope: .library,
              doc: "Caps the instruction set of the C cell kernels (CLSTMCell) and of the packed step gemm (CSmallGemm: avx512f or AVX2, which baseline also takes); all give the same bits."),
        Entry(name: "LSTMKIT_CPU_PREFETCH", type: "0 or 1", defaultValue: "1", scope: .library,
              doc: "0 turns off prefetching the next step's rows in the C cell kernels."),
        Entry(name: "LSTMKIT_KERNEL_DIR", type: "directory", defaultValue: "the embedded kernels", scope: .library,
              doc: "Loads the OpenCL kernel files from this directory (edited kernels without rebuilding)."),
        Entry(name: "LSTMKIT_TUNING_FILE", type: "file path", defaultValue: "$XDG_CACHE_HOME/lstmkit/tuning.json, else ~/.cache/lstmkit/tuning.json",
              scope: .library, doc: "The OpenCL tuning store that `lstm-bench --autotune` writes and every run reads."),
        Entry(name: "LSTMKIT_MPI_TIMEOUT", type: "seconds > 0", defaultValue: "120", scope: .library,
              doc: "An MPI collective that does not complete in this time throws (a dead or hung peer)."),
        Entry(name: "LSTMKIT_DISTRIBUTED", type: "0 or 1", defaultValue: "0", scope: .library,
              doc: "1 initialises MPI even when OMPI_COMM_WORLD_SIZE is not set."),
        // OpenCL tuning: validated by OpenCLTuning.apply / applyGPUKernelEnvironment; they win over the tuning store.
        Entry(name: "LSTMKIT_GEMM_NN", type: "TMxTN/VW[/GROUP]", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "Register tile of the broadcast gemm (gemm.cl) for A * B."),
        Entry(name: "LSTMKIT_GEMM_TN", type: "TMxTN/VW[/GROUP]", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "Register tile of the broadcast gemm for A^T * B."),
        Entry(name: "LSTMKIT_GEMM_NT", type: "TMxTN/VW[/GROUP]", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "Tile of the dot-product gemm for A * B^T."),
        Entry(name: "LSTMKIT_GEMM_KCHUNK", type: "0 or 16...1048576", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "K chunk of the weight-gradient gemms (0: none)."),
        Entry(name: "LSTMKIT_NATIVE_EXP", type: "0 or 1", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "native_exp instead of exp in the kernels' sigmoid/tanh."),
        Entry(name: "LSTMKIT_CELL_VW", type: "1, 4, 8 or 16", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "Vector width of the cell kernels."),
        Entry(name: "LSTMKIT_COLUMN_VW", type: "1, 4, 8 or 16", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "Vector width of the column-reduction kernels."),
        Entry(name: "LSTMKIT_PREFER_NN", type: "0 or 1", defaultValue: "the device's tuning", scope: .openCLTuning,
              doc: "1 runs the step product as NN on a transposed copy of the weights."),
        Entry(name: "LSTMKIT_GEMM_KIND", type: "local or blocked", defaultValue: "by device type", scope: .openCLTuning,
              doc: "The gemm family: local-memory tiles (GPUs) or register blocks (CPUs)."),
        Entry(name: "LSTMKIT_GEMM_TILE", type: "TSMxTSNxTSK/WPTMxWPTN", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Tile of the local-memory gemm (gemm_local.cl)."),
        Entry(name: "LSTMKIT_PERSISTENT_MAX_BATCH", type: "integer >= 0", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Largest batch that runs the persistent LSTM kernel (0: never)."),
        Entry(name: "LSTMKIT_PERSISTENT_MAX_HIDDEN", type: "integer >= 0", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Largest hidden size that runs the persistent LSTM kernel."),
        Entry(name: "LSTMKIT_PERSISTENT_LOCAL_BYTES", type: "integer >= 0", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Local memory the persistent kernel may use for W_hh (0: never in local memory)."),
        Entry(name: "LSTMKIT_PERSISTENT_WG", type: "integer 1...1024", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Work-group size of the persistent kernel."),
        Entry(name: "LSTMKIT_LN_WG", type: "power of two 1...1024", defaultValue: "by device type", scope: .openCLTuning,
              doc: "Work-group size of the layer-norm kernels."),
        // Tests and CI
        Entry(name: "LSTMKIT_REQUIRE_OPENCL", type: "0 or 1", defaultValue: "0", scope: .test,
              doc: "1: a test that finds no OpenCL platform fails instead of skipping (CI sets it)."),
        Entry(name: "LSTMKIT_REQUIRE_MPI", type: "0 or 1", defaultValue: "0", scope: .test,
              doc: "1: a test that finds no mpirun fails instead of skipping (CI sets it)."),
        Entry(name: "LSTMKIT_TEST_DEVICE", type: "device spec", defaultValue: "opencl:0", scope: .test,
              doc: "The OpenCL device of the tests."),
        Entry(name: "LSTMKIT_ONNX_DEMO_DIR", type: "directory", defaultValue: "a temporary directory", scope: .test,
              doc: "Where ONNXCLITests writes its demo model (to keep it)."),
        Entry(name: "LSTMKIT_PAD_REPEATS", type: "integer >= 1", defaultValue: "unset: 1 step, small shape only", scope: .test,
              doc: "How many timed steps LeftPaddingCostTests takes per case, over both shapes (it prints times, asserts none)."),
        Entry(name: "LSTMKIT_NO_PLATFORM_CHILD", type: "0 or 1", defaultValue: "0", scope: .test,
              doc: "Set by BadInputTests for the child process it starts without an OpenCL platform."),
        Entry(name: "LSTMKIT_ONNX_MUTATION_CHILD", type: "0 or 1", defaultValue: "0", scope: .test,
              doc: "Set by ONNXHostileFileTests for its child process."),
        Entry(name: "LSTMKIT_OOM_CHILD", type: "case name", defaultValue: "unset", scope: .test,
              doc: "Set by OutOfMemoryTests for its child process (which case to run)."),
        Entry(name: "LSTMKIT_REGENERATE_FIXTURES", type: "0 or 1", defaultValue: "0", scope: .test,
              doc: "1: LegacyModelFixtureTests rewrites Tests/Fixtures/legacy_model_v1 (the version 1 model.json fixtures)."),
    ]

    /// The entry of `name`; a name that is not in the table is a programming error.
    public static func entry(_ name: String) -> Entry {
        guard let e = table.first(where: { $0.name == name }) else { preconditionFailure("\(name) is not in Settings.table") }
        return e
    }

    /// The raw value of a variable in the table (nil when unset). Every read of an LSTMKIT_ variable goes through
    /// here or through the typed readers below.
    public static func text(_ name: String, in environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        _ = entry(name)
        return environment[name]
    }

    /// An integer in `range`; unset gives `defaultValue`, a bad value warns once and gives `defaultValue`.
    public static func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int> = 0...Int.max,
                           environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        guard let raw = text(name, in: environment) else { return defaultValue }
        if let v = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(v) { return v }
        let expected = range.upperBound == Int.max ? "an integer >= \(range.lowerBound)" : "an integer in \(range.lowerBound)...\(range.upperBound)"
        warnInvalid(name, raw, expected: expected, using: "\(defaultValue)")
        return defaultValue
    }

    /// A number > 0; unset gives `defaultValue`, a bad value warns once and gives `defaultValue`.
    public static func positiveDouble(_ name: String, default defaultValue: Double,
                                      environment: [String: String] = ProcessInfo.processInfo.environment) -> Double {
        guard let raw = text(name, in: environment) else { return defaultValue }
        if let v = Double(raw.trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite { return v }
        warnInvalid(name, raw, expected: "a number > 0", using: "\(defaultValue)")
        return defaultValue
    }

    /// 0/1 (also false/true); unset gives `defaultValue`, a bad value warns once and gives `defaultValue`.
    public static func flag(_ name: String, default defaultValue: Bool,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let raw = text(name, in: environment) else { return defaultValue }
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "true": return true
        case "0", "false": return false
        default:
            warnInvalid(name, raw, expected: "0 or 1", using: defaultValue ? "1" : "0")
            return defaultValue
        }
    }

    /// One of `choices`; unset gives nil, a bad value warns once and gives nil (the caller's default).
    public static func choice(_ name: String, _ choices: [String], defaultDescription: String,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let raw = text(name, in: environment) else { return nil }
        let v = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if choices.contains(v) { return v }
        warnInvalid(name, raw, expected: "one of " + choices.joined(separator: ", "), using: defaultDescription)
        return nil
    }

    /// The one warning line of a bad value (printed once per process per distinct message).
    static func warnInvalid(_ name: String, _ value: String, expected: String, using defaultValue: String) {
        TuningWarnings.warn("\(name)=\"\(value)\" is invalid (expected \(expected)); using \(defaultValue)")
    }

    /// Hands the C libraries their settings (they read no environment). Runs once, before the CPU path's first
    /// kernel; a variable that is unset leaves the C default (the best ISA, prefetch on, small gemm on).
    static let applyToC: Void = {
        if let isa = choice("LSTMKIT_CPU_ISA", ["baseline", "avx2", "avx512f"], defaultDescription: "the best the CPU has") {
            _ = lstmkit_cell_set_isa(["baseline": 0, "avx2": 1, "avx512f": 2][isa]!)
            _ = lstmkit_small_gemm_set_isa(["baseline": 0, "avx2": 1, "avx512f": 2][isa]!)
        }
        if text("LSTMKIT_CPU_PREFETCH") != nil { _ = lstmkit_cell_set_prefetch(flag("LSTMKIT_CPU_PREFETCH", default: true) ? 1 : 0) }
        if text("LSTMKIT_CPU_SMALL_GEMM") != nil { _ = lstmkit_small_gemm_set_enabled(flag("LSTMKIT_CPU_SMALL_GEMM", default: true) ? 1 : 0) }
    }()
}
