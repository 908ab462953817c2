import CMPIShim
import Foundation

/// Errors of multi-process training. Every rank that sees one throws it; none aborts the job silently.
public enum DistributedError: Error, Equatable, CustomStringConvertible {
    /// The process was started by mpirun (or asked for MPI) but Open MPI could not be loaded or initialised.
    case unavailable(reason: String)
    /// An MPI call returned an error (the communicator uses MPI_ERRORS_RETURN).
    case mpi(operation: String, rank: Int, message: String)
    /// A collective did not complete within `seconds`: a peer died, hangs or is far behind.
    case timeout(operation: String, rank: Int, seconds: Double)
    /// The ranks cannot train together (a batch smaller than the number of ranks, models or data that differ).
    case badSetup(rank: Int, reason: String)

    public var description: String {
        switch self {
        case let .unavailable(reason): return "MPI is unavailable: \(reason)"
        case let .mpi(operation, rank, message): return "rank \(rank): MPI \(operation) failed: \(message)"
        case let .timeout(operation, rank, seconds):
            return "rank \(rank): MPI \(operation) did not complete within \(seconds) s: a peer rank died or hangs (LSTMKIT_MPI_TIMEOUT sets the limit)"
        case let .badSetup(rank, reason): return "rank \(rank): the ranks cannot train together: \(reason)"
        }
    }
}

/// The reduction of `allReduce`.
public enum ReduceOp: Sendable { case sum, mean, max, min }

/// The processes of one job (MPI_COMM_WORLD): `rank` of `size`, `localRank` on this machine.
///
/// Open MPI is loaded at run time (`dlopen("libmpi.so.40")`), only when the process was started by `mpirun`
/// (`OMPI_COMM_WORLD_SIZE` is set) or `LSTMKIT_DISTRIBUTED=1` asks for it. Otherwise the process is rank 0 of 1
/// and every collective is a no-op, so nothing needs MPI installed. Collectives are non-blocking MPI calls
/// polled against `timeout` seconds (`LSTMKIT_MPI_TIMEOUT`, default 120): a dead peer gives
/// `DistributedError.timeout` on the survivors instead of a hang.
public final class Distributed: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    /// Seconds a collective may take before it throws `.timeout`.
    public var timeout: Double
    /// What the all-reduces of device tensors (the gradients in `fit`) cost on this rank so far: calls, bytes per
    /// rank and wall time, host staging included (the read from and write to the device).
    public private(set) var tensorAllReduce = (calls: 0, bytes: 0, seconds: 0.0)
    /// Whether a collective has failed: MPI's state is then unusable, so `finalize` does nothing.
    public private(set) var failed = false
    private let usesMPI: Bool

    /// Rank 0 of 1, without MPI.
    public static let single = Distributed(rank: 0, size: 1, localRank: 0, localSize: 1, usesMPI: false)

    private init(rank: Int, size: Int, localRank: Int, localSize: Int, usesMPI: Bool) {
        self.rank = rank; self.size = size; self.localRank = localRank; self.localSize = localSize; self.usesMPI = usesMPI
        timeout = Settings.positiveDouble("LSTMKIT_MPI_TIMEOUT", default: 120)
    }

    nonisolated(unsafe) private static var cached: Distributed?
    private static let lock = NSLock()

    /// Whether this process was started by mpirun (or `LSTMKIT_DISTRIBUTED=1`).
    public static var isLaunchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || Settings.flag("LSTMKIT_DISTRIBUTED", default: false)
    }

    /// The job's processes: MPI_COMM_WORLD under mpirun, `single` otherwise. Initialises MPI once.
    public static func world() throws -> Distributed {
        lock.lock(); defer { lock.unlock() }
        if let cached { return cached }
        guard isLaunchedByMPI else { cached = .single; return .single }
        var message = [CChar](repeating: 0, count: 512)
        guard lk_mpi_load(&message, Int32(message.count)) == 0 else {
            throw DistributedError.unavailable(reason: text(message) + " (apt-get install openmpi-bin libopenmpi-dev)")
        }
        var rank: Int32 = 0, size: Int32 = 1
        let rc = lk_mpi_init(&rank, &size)
        guard rc == 0 else { throw DistributedError.unavailable(reason: "MPI_Init: \(errorString(rc))") }
        let env = ProcessInfo.processInfo.environment
        let localRank = env["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap(Int.init) ?? Int(rank)
        let localSize = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? Int(size)
        let world = Distributed(rank: Int(rank), size: Int(size), localRank: localRank, localSize: localSize, usesMPI: true)
        cached = world
        return world
    }

    /// A NUL-terminated C string buffer as a String.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func errorString(_ code: Int32) -> String {
        var message = [CChar](repeating: 0, count: 512)
        lk_mpi_error_string(code, &message, Int32(message.count))
        return text(message)
    }

    private func check(_ rc: Int32, _ operation: String) throws {
        guard rc != 0 else { return }
        failed = true
        if rc == LK_MPI_TIMEOUT { throw DistributedError.timeout(operation: operation, rank: rank, seconds: timeout) }
        throw DistributedError.mpi(operation: operation, rank: rank, message: Self.errorString(rc))
    }

    private func checkUsable(_ operation: String) throws {
        if failed { throw DistributedError.mpi(operation: operation, rank: rank, message: "an earlier collective failed") }
    }

    // MARK: Collectives on host memory

    /// Reduces `values` over all ranks, in place.
    public func allReduce(_ values: inout [Double], _ op: ReduceOp = .sum) throws {
        try allReduceHost(&values, LK_MPI_DOUBLE, "doubles", op)
    }

    public func allReduce(_ values: inout [Float], _ op: ReduceOp = .sum) throws {
        try allReduceHost(&values, LK_MPI_FLOAT, "floats", op)
    }

    private func allReduceHost<T: BinaryFloatingPoint>(_ values: inout [T], _ type: Int32, _ what: String, _ op: ReduceOp) throws {
        guard size > 1 else { return }
        try checkUsable("allReduce")
        let rc = values.withUnsafeMutableBufferPointer {
            lk_mpi_allreduce($0.baseAddress, $0.count, type, Self.code(op), timeout)
        }
        try check(rc, "allReduce(\(values.count) \(what))")
        if op == .mean { let n = T(size); for i in values.indices { values[i] /= n } }
    }

    private static func code(_ op: ReduceOp) -> Int32 {
        switch op {
        case .sum, .mean: return LK_MPI_SUM
        case .max: return LK_MPI_MAX
        case .min: return LK_MPI_MIN
        }
    }

    /// Replaces `values` on every rank by rank `root`'s (every rank must pass the same count).
    public func broadcast(_ values: inout [Double], from root: Int = 0) throws {
        guard size > 1 else { return }
        try checkUsable("broadcast")
        guard (0..<size).contains(root) else { throw DistributedError.badSetup(rank: rank, reason: "broadcast root \(root) is not in 0..<\(size)") }
        let rc = values.withUnsafeMutableBytes { lk_mpi_bcast($0.baseAddress, $0.count, Int32(root), timeout) }
        try check(rc, "broadcast(\(values.count) doubles)")
    }

    public func broadcast(_ values: inout [Float], from root: Int = 0) throws {
        guard size > 1 else { return }
        try checkUsable("broadcast")
        guard (0..<size).contains(root) else { throw DistributedError.badSetup(rank: rank, reason: "broadcast root \(root) is not in 0..<\(size)") }
        let rc = values.withUnsafeMutableBytes { lk_mpi_bcast($0.baseAddress, $0.count, Int32(root), timeout) }
        try check(rc, "broadcast(\(values.count) floats)")
    }

    /// Waits until every rank has called it.
    public func barrier() throws {
        guard size > 1 else { return }
        try checkUsable("barrier")
        try check(lk_mpi_barrier(timeout), "barrier")
    }

    // MARK: Device tensors (staged through host memory)

    /// Reduces a device tensor over all ranks, in place (read to the host, reduced, written back).
    public func allReduce(_ tensor: Tensor, _ op: ReduceOp = .sum) throws {
        guard size > 1 else { return }
        try allReduce([tensor], op)
    }

    /// Reduces several tensors with one collective over their concatenation.
    public func allReduce(_ tensors: [Tensor], _ op: ReduceOp = .sum) throws {
        guard size > 1, let device = tensors.first?.device else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            tensorAllReduce.calls += 1
            tensorAllReduce.bytes += tensors.reduce(0) { $0 + $1.count } * (device.precision == .float64 ? 8 : 4)
            tensorAllReduce.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        if device.precision == .float64 {
            var host = try tensors.flatMap { try $0.toDoubles() }
            try allReduce(&host, op)
            var offset = 0
            for t in tensors { try device.backend.write(Array(host[offset..<offset + t.count]), to: t.view); offset += t.count }
        } else {
            var host = try tensors.flatMap { try $0.toArray() }
            try allReduce(&host, op)
            var offset = 0
            for t in tensors { try device.backend.write(Array(host[offset..<offset + t.count]), to: t.view); offset += t.count }
        }
    }

    /// Replaces the tensors on every rank by rank `root`'s.
    public func broadcast(_ tensors: [Tensor], from root: Int = 0) throws {
        guard size > 1, let device = tensors.first?.device else { return }
        if device.precision == .float64 {
            var host = try tensors.flatMap { try $0.toDoubles() }
            try broadcast(&host, from: root)
            var offset = 0
            for t in tensors { try device.backend.write(Array(host[offset..<offset + t.count]), to: t.view); offset += t.count }
        } else {
            var host = try tensors.flatMap { try $0.toArray() }
            try broadcast(&host, from: root)
            var offset = 0
            for t in tensors { try device.backend.write(Array(host[offset..<offset + t.count]), to: t.view); offset += t.count }
        }
    }

    public func broadcast(_ tensor: Tensor, from root: Int = 0) throws { try broadcast([tensor], from: root) }

    /// Throws `.badSetup` on every rank unless all ranks pass the same `fingerprint` (compared as a 64-bit hash).
    public func requireAgreement(_ fingerprint: String, what: String) throws {
        guard size > 1 else { return }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in fingerprint.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        // Four 16-bit pieces, exact in Double; min == max on every piece iff all ranks agree.
        let pieces = (0..<4).map { Double((hash >> (16 * UInt64($0))) & 0xFFFF) }
        var low = pieces, high = pieces
        try allReduce(&low, .min)
        try allReduce(&high, .max)
        guard low == high else {
            throw DistributedError.badSetup(rank: rank, reason: "the ranks disagree on \(what); this rank has \(fingerprint)")
        }
    }

    /// Ends MPI (a no-op without MPI, or after a failed collective, where MPI_Finalize could hang).
    public func finalize() {
        guard usesMPI, !failed else { return }
        _ = lk_mpi_finalize()
    }
}
