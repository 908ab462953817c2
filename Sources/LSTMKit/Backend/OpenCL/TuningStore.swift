import COpenCL
import Foundation

/// A problem with the tuning store or with one tuning value. `OpenCLTuning.forDevice` never throws these: it
/// prints each one once, as a warning line on stderr, and ignores the file or the value.
enum TuningStoreError: Error, Equatable, CustomStringConvertible {
    /// The store file exists but could not be read (e.g. a directory, no permission).
    case unreadable(path: String, reason: String)
    /// The store file is not a JSON object of objects (device key -> name -> value).
    case corrupt(path: String, reason: String)
    /// The store file (or its directory) could not be written.
    case unwritable(path: String, reason: String)
    /// A value `lstm-bench`, the store or the environment gave that the kernels do not accept; `source` says where
    /// it came from.
    case invalidValue(source: String, name: String, value: String, reason: String)

    var description: String {
        switch self {
        case let .unreadable(path, reason): return "tuning store \(path) could not be read (\(reason))"
        case let .corrupt(path, reason): return "tuning store \(path) is corrupt (\(reason))"
        case let .unwritable(path, reason): return "tuning store \(path) could not be written (\(reason))"
        case let .invalidValue(source, name, value, reason): return "\(source): \(name)=\"\(value)\" is invalid (\(reason))"
        }
    }
}

/// The tuning values `lstm-bench --autotune` found, per OpenCL device, in one JSON file:
///
///     { "pthread-skylake-avx512-AMD EPYC [OpenCL 3.0 PoCL 3.1+debian ...]": { "GEMM_NN": "8x16/16/8", "CELL_VW": "16" } }
///
/// The key is the device name and its platform's CL_PLATFORM_VERSION (which carries the driver version), so a
/// driver update starts from the defaults again. The names and values are those of the LSTMKIT_* environment
/// overrides without the prefix (`OpenCLTuning.overrideNames`). The file is LSTMKIT_TUNING_FILE, else
/// `$XDG_CACHE_HOME/lstmkit/tuning.json`, else `~/.cache/lstmkit/tuning.json`. A missing file is an empty store.
/// Writes go to a temporary file in the same directory, renamed over the store (a reader never sees half a file;
/// of two concurrent writers, the last rename wins).
struct TuningStore: Sendable {
    /// The JSON file.
    let path: String

    init(path: String) { self.path = path }

    /// The store at the default path (read from the environment now).
    static var standard: TuningStore { TuningStore(path: defaultPath()) }

    /// LSTMKIT_TUNING_FILE, else $XDG_CACHE_HOME/lstmkit/tuning.json, else ~/.cache/lstmkit/tuning.json.
    static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let file = Settings.text("LSTMKIT_TUNING_FILE", in: environment), !file.isEmpty { return file }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/lstmkit/tuning.json" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.cache/lstmkit/tuning.json"
    }

    /// The store key of a device: "<device name> [<CL_PLATFORM_VERSION>]" (as lstm-bench prints it).
    static func deviceKey(_ info: OpenCLDeviceInfo) -> String {
        var version = "?"
        if let platforms = try? OpenCLDiscovery.platforms(), platforms.indices.contains(info.platformIndex) {
            version = OpenCLDiscovery.platformString(platforms[info.platformIndex], CL_PLATFORM_VERSION)
        }
        return "\(info.deviceName) [\(version)]"
    }

    /// Every entry: device key -> name -> value. Numbers are read as their decimal text. An empty store when the
    /// file does not exist.
    func load() throws(TuningStoreError) -> [String: [String: String]] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [:] }
        if isDirectory.boolValue { throw .unreadable(path: path, reason: "it is a directory") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw .corrupt(path: path, reason: "not JSON")
        }
        guard let top = object as? [String: Any] else { throw .corrupt(path: path, reason: "not a JSON object") }
        var entries: [String: [String: String]] = [:]
        for (key, value) in top {
            guard let values = value as? [String: Any] else {
                throw .corrupt(path: path, reason: "the entry \"\(key)\" is not a JSON object")
            }
            entries[key] = values.mapValues { v in
                if let s = v as? String { return s }
                if let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) { return "\(i)" }
                return "\(v)"  // not a string or an integer: rejected with its text when applied
            }
        }
        return entries
    }

    /// The entry of one device, or [:]: an unreadable or corrupt file is reported on stderr (once) and ignored.
    func entry(for deviceKey: String) -> [String: String] {
        do { return try load()[deviceKey] ?? [:] } catch {
            TuningWarnings.warn("\(error); ignoring it")
            return [:]
        }
    }

    /// Sets (replaces) the entry of one device, keeping every other device's entry, with an atomic write.
    /// Values are checked first (a value the kernels do not accept throws `.invalidValue`); a corrupt store is
    /// not overwritten (`.corrupt`: delete it, or fix it by hand).
    func save(_ values: [String: String], for deviceKey: String) throws(TuningStoreError) {
        var check = OpenCLTuning()
        if let problem = check.apply(values, source: "entry for \(deviceKey)").first { throw problem }
        var entries = try load()
        entries[deviceKey] = values
        try write(entries)
    }

    /// Deletes the entry of one device (the device gets the defaults again), keeping the others.
    func removeEntry(for deviceKey: String) throws(TuningStoreError) {
        var entries = try load()
        guard entries.removeValue(forKey: deviceKey) != nil else { return }
        try write(entries)
    }

    /// Writes the whole store: a temporary file next to it, then rename(2) over it.
    private func write(_ entries: [String: [String: String]]) throws(TuningStoreError) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var data = try JSONSerialization.data(withJSONObject: entries, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            data.append(0x0A)
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .unwritable(path: path, reason: "\(error.localizedDescription)")
        }
        if rename(temporary.path, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .unwritable(path: path, reason: "rename: \(reason)")
        }
    }
}

/// Prints each distinct warning once per process on stderr (a backend is built per device, and lstm-bench builds
/// one per candidate, so the same bad entry would otherwise repeat).
enum TuningWarnings {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var printed: Set<String> = []

    static func warn(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        guard printed.insert(message).inserted else { return }
        FileHandle.standardError.write(Data("lstmkit: warning: \(message)\n".utf8))
    }
}

extension OpenCLTuning {
    /// The names of the values that can be overridden, as in the store and after "LSTMKIT_" in the environment.
    static let overrideNames = ["GEMM_NN", "GEMM_TN", "GEMM_NT", "GEMM_KCHUNK", "NATIVE_EXP", "CELL_VW", "COLUMN_VW", "PREFER_NN"]

    /// This tuning as override values (every name in `overrideNames`): what the store holds and
    /// `apply(_:source:)` reads back.
    var overrideValues: [String: String] {
        ["GEMM_NN": "\(nn)", "GEMM_TN": "\(tn)", "GEMM_NT": "\(dot)", "GEMM_KCHUNK": "\(gemmKChunk)",
         "NATIVE_EXP": nativeExp ? "1" : "0", "CELL_VW": "\(cellVW)", "COLUMN_VW": "\(columnVW)", "PREFER_NN": prefersNN ? "1" : "0"]
    }

    /// The LSTMKIT_<name> variables of `environment`, by name (other LSTMKIT_ variables are not tuning values).
    static func environmentOverrides(_ environment: [String: String]) -> [String: String] {
        var values: [String: String] = [:]
        for name in overrideNames { if let v = Settings.text("LSTMKIT_" + name, in: environment) { values[name] = v } }
        return values
    }

    /// Sets every valid value of `overrides` (name -> value, as in the environment without "LSTMKIT_") and returns
    /// the ones it left out, each as `.invalidValue` naming `source`. Accepted values (what the kernels compile):
    /// - GEMM_NN, GEMM_TN, GEMM_NT: "TMxTN/VW" or "TMxTN/VW/GROUP" (gemm.cl): TM 1...32, TN 1...64, TM*TN <= 512,
    ///   VW 4, 8 or 16, TN a multiple of VW for NN and TN (the broadcast form); GROUP 1...256 work-items, or 0 or
    ///   "auto" (the runtime chooses); without GROUP the current group stays.
    /// - GEMM_KCHUNK: 0 (no K chunks) or 16...1048576. CELL_VW, COLUMN_VW: 1, 4, 8 or 16.
    /// - NATIVE_EXP, PREFER_NN: 0 or 1 (also "false"/"true").
    @discardableResult
    mutating func apply(_ overrides: [String: String], source: String) -> [TuningStoreError] {
        var problems: [TuningStoreError] = []
        for name in overrides.keys.sorted() {
            let text = overrides[name]!
            if let reason = set(name, text.trimmingCharacters(in: .whitespaces)) {
                problems.append(.invalidValue(source: source, name: name, value: text, reason: reason))
            }
        }
        return problems
    }

    /// Applies, in order, the stored entry of the device, then the LSTMKIT_* variables of `environment` (the later
    /// wins). Invalid values and an unreadable or corrupt store are printed once on stderr and ignored.
    mutating func applyStoredAndEnvironment(_ info: OpenCLDeviceInfo, store: TuningStore?, environment: [String: String]) {
        if let store {
            let key = TuningStore.deviceKey(info)
            for problem in apply(store.entry(for: key), source: "tuning store \(store.path), entry \"\(key)\"") {
                TuningWarnings.warn("\(problem); ignoring it")
            }
        }
        for problem in apply(Self.environmentOverrides(environment), source: "environment LSTMKIT_*") {
            // The warning names the value used instead (Settings.swift: every bad value names its default).
            guard case let .invalidValue(_, name, _, _) = problem, let used = overrideValues[name] else {
                TuningWarnings.warn("\(problem); ignoring it"); continue
            }
            TuningWarnings.warn("\(problem); ignoring it, using \(used)")
        }
    }

    /// Sets one value; returns why it was rejected (nothing is changed then), or nil.
    private mutating func set(_ name: String, _ text: String) -> String? {
        func choice(_ allowed: [Int]) -> Result<Int, Rejected> {
            guard let v = Int(text), allowed.contains(v) else {
                return .failure(Rejected("must be one of \(allowed.map(String.init).joined(separator: ", "))"))
            }
            return .success(v)
        }
        func flag() -> Result<Bool, Rejected> {
            switch text.lowercased() {
            case "1", "true": return .success(true)
            case "0", "false": return .success(false)
            default: return .failure(Rejected("must be 0 or 1"))
            }
        }
        do {
            switch name {
            case "GEMM_NN": nn = try Self.parseBlock(text, current: nn, dotForm: false).get()
            case "GEMM_TN": tn = try Self.parseBlock(text, current: tn, dotForm: false).get()
            case "GEMM_NT": dot = try Self.parseBlock(text, current: dot, dotForm: true).get()
            case "GEMM_KCHUNK":
                guard let v = Int(text), v == 0 || (16...1_048_576).contains(v) else {
                    throw Rejected("must be 0 (no K chunks) or 16...1048576")
                }
                gemmKChunk = v
            case "NATIVE_EXP": nativeExp = try flag().get()
            case "PREFER_NN": prefersNN = try flag().get()
            case "CELL_VW": cellVW = try choice([1, 4, 8, 16]).get()
            case "COLUMN_VW": columnVW = try choice([1, 4, 8, 16]).get()
            default: throw Rejected("unknown name; known: \(Self.overrideNames.joined(separator: ", "))")
            }
        } catch let error as Rejected {
            return error.reason
        } catch {
            return "\(error)"
        }
        return nil
    }

    /// Why a value was rejected.
    private struct Rejected: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Parses "TMxTN/VW[/GROUP]" into a gemm block that gemm.cl compiles (see `apply`).
    private static func parseBlock(_ text: String, current: Block, dotForm: Bool) -> Result<Block, Rejected> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let dims = parts.first?.split(separator: "x", omittingEmptySubsequences: false) ?? []
        guard (2...3).contains(parts.count), dims.count == 2, let tm = Int(dims[0]), let tn = Int(dims[1]), let vw = Int(parts[1])
        else { return .failure(Rejected("expected TMxTN/VW or TMxTN/VW/GROUP, e.g. 8x16/16/16")) }
        guard (1...32).contains(tm), (1...64).contains(tn), tm * tn <= 512 else {
            return .failure(Rejected("TM must be 1...32, TN 1...64 and TM*TN at most 512"))
        }
        guard [4, 8, 16].contains(vw) else { return .failure(Rejected("VW must be 4, 8 or 16")) }
        if !dotForm && tn % vw != 0 { return .failure(Rejected("TN must be a multiple of VW")) }
        var group = current.group
        if parts.count == 3 {
            if parts[2] == "auto" || parts[2] == "0" {
                group = nil
            } else if let g = Int(parts[2]), (1...256).contains(g) {
                group = g
            } else {
                return .failure(Rejected("GROUP must be 1...256, or 0 or auto (the runtime chooses)"))
            }
        }
        return .success(Block(tm: tm, tn: tn, vw: vw, group: group))
    }
}
