import Foundation

/// The CPU's data cache sizes, in bytes, as the inference path's batching reads them: Linux's
/// /sys/devices/system/cpu/cpu0/cache/index*/{level,type,size} (sizes such as "48K", "1024K", "32768K", "1M"),
/// with the fallback of a common server core (L2 512 KiB per core, L3 8 MiB shared) for what is not there.
struct CacheSizes: Sendable, Equatable {
    /// The L2 of one core.
    let l2PerCore: Int
    /// The last level (L3, else L2) and how many cores share it.
    let lastLevel: Int, lastLevelSharedBy: Int

    static let fallback = CacheSizes(l2PerCore: 512 << 10, lastLevel: 8 << 20, lastLevelSharedBy: 1)

    /// This machine's, read once.
    static let current: CacheSizes = read(directory: "/sys/devices/system/cpu/cpu0/cache")

    /// The caches described under `directory` (index0, index1, ...), `fallback` for what is missing or unreadable.
    static func read(directory: String) -> CacheSizes {
        var l2: Int? = nil, l3: Int? = nil, l3Shared = 1, l2Shared = 1
        for i in 0..<16 {
            let dir = directory + "/index\(i)"
            guard let level = Int(text(dir + "/level") ?? ""), let type = text(dir + "/type"),
                  type == "Unified" || type == "Data", let size = parseSize(text(dir + "/size") ?? "") else { continue }
            let shared = sharedCount(text(dir + "/shared_cpu_list") ?? "") ?? 1
            if level == 2 { (l2, l2Shared) = (size, shared) }
            if level == 3 { (l3, l3Shared) = (size, shared) }
        }
        let perCore = l2.map { $0 / max(l2Shared, 1) } ?? fallback.l2PerCore
        if let l3 { return CacheSizes(l2PerCore: perCore, lastLevel: l3, lastLevelSharedBy: l3Shared) }
        if let l2 { return CacheSizes(l2PerCore: perCore, lastLevel: l2, lastLevelSharedBy: l2Shared) }
        return CacheSizes(l2PerCore: perCore, lastLevel: fallback.lastLevel, lastLevelSharedBy: fallback.lastLevelSharedBy)
    }

    /// "48K", "1024K", "32M", "1G" or a plain byte count; nil when not one of those or it overflows.
    static func parseSize(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
        guard let last = t.last else { return nil }
        let shift: Int
        switch last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: shift = 0
        }
        guard let n = Int(shift == 0 ? t : String(t.dropLast())), n > 0, n <= Int.max >> shift else { return nil }
        return n << shift
    }

    /// How many CPUs a list such as "0-1", "0,2,4-7" names; nil when malformed.
    static func sharedCount(_ list: String) -> Int? {
        var count = 0
        for part in list.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let ends = part.split(separator: "-").map { Int($0) }
            if ends.count == 1, ends[0] != nil { count += 1; continue }
            guard ends.count == 2, let a = ends[0], let b = ends[1], b >= a, b - a < 1 << 20 else { return nil }
            count += b - a + 1
        }
        return count > 0 ? count : nil
    }

    private static func text(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
