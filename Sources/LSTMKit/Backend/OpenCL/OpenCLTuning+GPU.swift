/// The gemm kernel family an OpenCL backend launches (`OpenCLTuning.gemmKind`, env LSTMKIT_GEMM_KIND).
enum GemmKind: String, Sendable {
    /// Kernels/gemm.cl: register blocks of floatVW vectors, no local memory. The CPU (PoCL) default.
    case blocked
    /// Kernels/gemm_local.cl: TSM x TSN tiles of C per work-group, staged through __local memory. The GPU default.
    case local
}

extension OpenCLTuning {
    /// Kernels/gemm_local.cl's tile: TSM x TSN of C per work-group, slabs TSK deep, WPTM x WPTN outputs per
    /// work-item, so (TSN/WPTN) x (TSM/WPTM) work-items per group. Env LSTMKIT_GEMM_TILE=TSMxTSNxTSK/WPTMxWPTN.
    struct LocalTile: CustomStringConvertible, Sendable {
        var tsm = 64, tsn = 64, tsk = 16, wptm = 4, wptn = 4

        init() {}
        init(tsm: Int, tsn: Int, tsk: Int, wptm: Int, wptn: Int) {
            self.tsm = tsm; self.tsn = tsn; self.tsk = tsk; self.wptm = wptm; self.wptn = wptn
        }
        /// Parses "TSMxTSNxTSK/WPTMxWPTN", e.g. "64x64x16/4x4"; nil when malformed or not a valid tile.
        init?(spec: String) {
            let v = spec.split(whereSeparator: { "x/".contains($0) }).compactMap { Int($0) }
            guard v.count == 5 else { return nil }
            self.init(tsm: v[0], tsn: v[1], tsk: v[2], wptm: v[3], wptn: v[4])
            guard isValid else { return nil }
        }

        /// Work-items per group.
        var groupSize: Int { (tsm / wptm) * (tsn / wptn) }
        /// The kernel's #error conditions: whole work-item blocks, and slabs that the group loads evenly.
        var isValid: Bool {
            [tsm, tsn, tsk, wptm, wptn].allSatisfy { $0 > 0 } && tsm % wptm == 0 && tsn % wptn == 0
                && (tsk * tsm) % groupSize == 0 && (tsk * tsn) % groupSize == 0
        }
        var description: String { "\(tsm)x\(tsn)x\(tsk)/\(wptm)x\(wptn)" }

        /// The NDRange of C[M, N]: one group per tile, exactly (TSN/WPTN, TSM/WPTM) work-items each.
        func ndRange(m: Int, n: Int) -> (global: [Int], local: [Int]) {
            let local = [tsn / wptn, tsm / wptm]
            return ([(n + tsn - 1) / tsn * local[0], (m + tsm - 1) / tsm * local[1]], local)
        }
    }

    /// The gemm_local.cl defines of one variant (with TRANS_A/TRANS_B).
    func gemmLocalDefines(transA: Bool, transB: Bool) -> [String: String] {
        ["TRANS_A": transA ? "1" : "0", "TRANS_B": transB ? "1" : "0", "TSM": "\(localTile.tsm)", "TSN": "\(localTile.tsn)",
         "TSK": "\(localTile.tsk)", "WPTM": "\(localTile.wptm)", "WPTN": "\(localTile.wptn)"]
    }

    /// True when an LSTM forward of this shape should run as one lstm_persistent.cl launch per layer and direction
    /// (`lstmSequenceForward`) instead of T x (gemm + lstm_cell_forward): small batches (one work-group per row,
    /// so at most `persistentMaxBatch` compute units are busy) and a W_hh small enough to stream every step.
    func usePersistent(batch: Int, hidden: Int) -> Bool {
        batch >= 1 && batch <= persistentMaxBatch && hidden >= 1 && hidden <= persistentMaxHidden
    }

    /// lstm_persistent.cl's defines for hidden size `hidden` on a device with `deviceLocalBytes` of local memory
    /// and work-groups of at most `deviceMaxGroup`: HMAX = H rounded up to 8; WHH_LOCAL = 1 when the whole
    /// [4H, H] W_hh plus the state arrays fit both that and `persistentLocalBytes`; WG = `persistentGroup`, but no
    /// more than 4H rounded up to 32 (the most work-items a step can use) nor the device's limit.
    func persistentDefines(hidden: Int, deviceLocalBytes: Int, deviceMaxGroup: Int) -> [String: String] {
        let hmax = (hidden + 7) / 8 * 8
        let withW = (5 * hmax + 4 * hmax * hmax) * 4
        let whhLocal = withW <= min(persistentLocalBytes, deviceLocalBytes)
        let wg = persistentWorkGroup(hidden: hidden, deviceMaxGroup: deviceMaxGroup)
        return ["WG": "\(wg)", "WHH_LOCAL": whhLocal ? "1" : "0", "HMAX": "\(hmax)", "LSTMKIT_NATIVE_EXP": nativeExp ? "1" : "0"]
    }
    /// lstm_persistent.cl's WG: `persistentGroup`, but no more than 4H rounded up to 32 nor `deviceMaxGroup`.
    func persistentWorkGroup(hidden: Int, deviceMaxGroup: Int) -> Int {
        max(1, min(persistentGroup, (4 * hidden + 31) / 32 * 32, deviceMaxGroup))
    }
    /// `persistentDefines` and `persistentWorkGroup` on this tuning's device (`deviceLocalBytes`, `deviceMaxGroup`).
    func persistentDefines(hidden: Int) -> [String: String] {
        persistentDefines(hidden: hidden, deviceLocalBytes: deviceLocalBytes, deviceMaxGroup: deviceMaxGroup)
    }
    func persistentWorkGroup(hidden: Int) -> Int { persistentWorkGroup(hidden: hidden, deviceMaxGroup: deviceMaxGroup) }

    /// Reads LSTMKIT_GEMM_KIND (local | blocked), LSTMKIT_GEMM_TILE (TSMxTSNxTSK/WPTMxWPTN),
    /// LSTMKIT_PERSISTENT_MAX_BATCH (0: never), LSTMKIT_PERSISTENT_MAX_HIDDEN, LSTMKIT_PERSISTENT_LOCAL_BYTES (0: W_hh
    /// never in local memory), LSTMKIT_PERSISTENT_WG (1...1024) and LSTMKIT_LN_WG (a power of two, 1...1024; the
    /// layer-norm kernels, on every device type). A bad value: one warning on stderr, ignored.
    mutating func applyGPUKernelEnvironment(_ environment: [String: String]) {
        func read<T>(_ name: String, _ expected: String, _ parse: (String) -> T?) -> T? {
            guard let text = Settings.text("LSTMKIT_" + name, in: environment) else { return nil }
            if let v = parse(text.trimmingCharacters(in: .whitespaces)) { return v }
            TuningWarnings.warn("environment LSTMKIT_\(name)=\"\(text)\" is invalid (\(expected)); ignoring it, using \(gpuKernelDefines[name] ?? "the default")")
            return nil
        }
        func count(_ range: ClosedRange<Int>) -> (String) -> Int? { { Int($0).flatMap { range.contains($0) ? $0 : nil } } }
        if let v = read("GEMM_KIND", "must be local or blocked", { GemmKind(rawValue: $0.lowercased()) }) { gemmKind = v }
        if let v = read("GEMM_TILE", "expected TSMxTSNxTSK/WPTMxWPTN, e.g. 64x64x16/4x4, that gemm_local.cl accepts",
                        LocalTile.init(spec:)) { localTile = v }
        if let v = read("PERSISTENT_MAX_BATCH", "must be 0 or more", count(0...Int(Int32.max))) { persistentMaxBatch = v }
        if let v = read("PERSISTENT_MAX_HIDDEN", "must be 0 or more", count(0...Int(Int32.max))) { persistentMaxHidden = v }
        if let v = read("PERSISTENT_LOCAL_BYTES", "must be 0 or more", count(0...Int(Int32.max))) { persistentLocalBytes = v }
        if let v = read("PERSISTENT_WG", "must be 1...1024", count(1...1024)) { persistentGroup = v }
        if let v = read("LN_WG", "must be a power of two in 1...1024", { Int($0).flatMap { (1...1024).contains($0) && $0 & ($0 - 1) == 0 ? $0 : nil } }) {
            layerNormGroup = v
        }
    }

    /// The values of this file's fields, for `defines` (reports).
    var gpuKernelDefines: [String: String] {
        ["GEMM_KIND": gemmKind.rawValue, "GEMM_TILE": "\(localTile)", "PERSISTENT_MAX_BATCH": "\(persistentMaxBatch)",
         "PERSISTENT_MAX_HIDDEN": "\(persistentMaxHidden)", "PERSISTENT_LOCAL_BYTES": "\(persistentLocalBytes)",
         "PERSISTENT_WG": "\(persistentGroup)", "LN_WG": "\(layerNormGroup)"]
    }
}
