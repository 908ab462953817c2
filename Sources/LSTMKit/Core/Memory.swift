import Foundation
import Synchronization

/// Checked sizes, and the host-memory checks that every CPU buffer (and every buffer of an OpenCL device that
/// lives in host memory, as PoCL's) passes before it is allocated, so that running out of memory is a typed
/// `LSTMKitError.outOfMemory` and never a trap, an abort inside the OpenCL runtime, or the OOM killer.
enum Memory {
    /// The product of `dims`, or nil when one is negative or the product overflows Int.
    static func product(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// `count` elements of `elementSize` bytes, in bytes; a typed error when count is negative or the product overflows.
    static func bytes(count: Int, elementSize: Int, device: @autoclosure () -> String) throws -> Int {
        guard count >= 0 else {
            throw LSTMKitError.invalidArgument(name: "buffer element count", value: "\(count)", reason: "must not be negative")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        if overflow {
            throw LSTMKitError.outOfMemory(bytes: Int.max, device: device(),
                                           reason: "\(count) elements of \(elementSize) bytes overflow a 64-bit byte count")
        }
        return bytes
    }

    /// The most host memory this process can hold: RAM plus swap (/proc/meminfo's MemTotal + SwapTotal, else
    /// ProcessInfo's physical memory), capped by the cgroup's memory.max when there is one. Read once.
    static let hostLimit: Int = {
        var limit = meminfo(["MemTotal:", "SwapTotal:"]) ?? Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let cgroup = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), cgroup > 0 {
            limit = min(limit, cgroup)
        }
        return limit
    }()

    /// Bytes of live buffers in host memory: those of every CPU backend, and those of OpenCL devices whose
    /// buffers are host memory (PoCL).
    static let liveHostBytes = Atomic<Int>(0)

    /// From this size on, a request is also checked against the memory the kernel reports available now
    /// (MemAvailable + SwapFree): Linux overcommits, so a big malloc can succeed and the process be killed
    /// when it touches the pages. Below it the check would cost more than it protects (one read of /proc/meminfo).
    static let availabilityCheckBytes = 64 << 20

    /// Accounts `bytes` of a new buffer in host memory, or throws `outOfMemory` (and accounts nothing) when the
    /// live host buffers plus this one would exceed `hostLimit`, or a big request exceeds what is available now.
    static func reserveHost(_ bytes: Int, device: String) throws {
        let live = liveHostBytes.wrappingAdd(bytes, ordering: .relaxed).newValue
        if bytes > hostLimit || live < 0 || live > hostLimit {
            liveHostBytes.wrappingSubtract(bytes, ordering: .relaxed)
            throw LSTMKitError.outOfMemory(bytes: bytes, device: device,
                                           reason: "\(live &- bytes) bytes are held by live buffers in host memory, and this process can hold at most \(hostLimit) (RAM + swap, or the cgroup's memory.max)")
        }
        do { try checkAvailable(bytes, device: device) } catch {
            liveHostBytes.wrappingSubtract(bytes, ordering: .relaxed)
            throw error
        }
    }

    static func releaseHost(_ bytes: Int) {
        liveHostBytes.wrappingSubtract(bytes, ordering: .relaxed)
    }

    /// For requests of `availabilityCheckBytes` or more: throws when `bytes` exceed MemAvailable + SwapFree.
    static func checkAvailable(_ bytes: Int, device: String) throws {
        guard bytes >= availabilityCheckBytes, let available = availableNow() else { return }
        if bytes > available {
            throw LSTMKitError.outOfMemory(bytes: bytes, device: device,
                                           reason: "only \(available) bytes of host memory are available now (MemAvailable + SwapFree)")
        }
    }

    /// MemAvailable + SwapFree from /proc/meminfo, in bytes (nil when unreadable).
    static func availableNow() -> Int? { meminfo(["MemAvailable:", "SwapFree:"]) }

    /// The sum of the /proc/meminfo fields `keys` (each "Name:"), in bytes; nil when none can be read.
    static func meminfo(_ keys: [String]) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        var total = 0, found = false
        for line in text.split(separator: "\n") where keys.contains(where: { line.hasPrefix($0) }) {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let kib = Int(fields[1]),
                  case (let b, false) = kib.multipliedReportingOverflow(by: 1024),
                  case (let sum, false) = total.addingReportingOverflow(b) else { continue }
            total = sum
            found = true
        }
        return found ? total : nil
    }

    /// Whether a mapping of memory this process can otherwise hold may still fail: under an address-space or
    /// data limit (RLIMIT_AS, RLIMIT_DATA: `ulimit -v`, `ulimit -d`) or strict overcommit (vm.overcommit_memory
    /// 2). Without them Linux refuses a private mapping only when it alone is bigger than RAM + swap, which
    /// `hostLimit` and `checkAvailable` catch first. Two getrlimit calls.
    static func mappingsCanFail() -> Bool {
        var limit = rlimit()
        for resource in [RLIMIT_AS, RLIMIT_DATA] {
            if getrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max { return true }  // RLIM_INFINITY
        }
        return strictOvercommit
    }
    static let strictOvercommit: Bool = {
        let mode = try? String(contentsOfFile: "/proc/sys/vm/overcommit_memory", encoding: .utf8)
        return mode?.trimmingCharacters(in: .whitespacesAndNewlines) == "2"
    }()

    /// Whether `bytes` of fresh private memory can be mapped now: maps that much (untouched, so it costs no RAM)
    /// and unmaps it. Fails as the allocation itself would under RLIMIT_AS, RLIMIT_DATA or the kernel's
    /// overcommit heuristic. For OpenCL devices whose buffers the runtime mallocs in this process (PoCL), where
    /// a failed malloc is an assertion inside the runtime, not an error code.
    static func canMap(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        if p == MAP_FAILED || p == nil { return false }
        munmap(p, bytes)
        return true
    }
}
