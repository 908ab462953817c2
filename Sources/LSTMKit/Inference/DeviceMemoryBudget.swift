import Synchronization

/// How much memory one batch of `predict` / `evaluate` may take on a device, in bytes.
///
/// OpenCL: from the context's CL_DEVICE_GLOBAL_MEM_SIZE less what its live buffers hold (`OpenCLContext`
/// accounts every buffer), and CL_DEVICE_MAX_MEM_ALLOC_SIZE for the largest single buffer; when the device's
/// buffers are host memory (PoCL), also what the host has. CPU: the host's memory (RAM + swap or the cgroup's
/// limit, less the live host buffers, and at most MemAvailable + SwapFree). A batch gets `share` of what is free
/// (the model's parameters, the caller's tensors and the allocator's slack need the rest).
struct DeviceMemoryBudget: Sendable, Equatable {
    /// Bytes all of one batch's buffers together may take.
    let totalBytes: Int
    /// Bytes one buffer may take.
    let bufferBytes: Int

    /// The fraction of the free memory one batch may take.
    static let share = 4

    /// The budget on `device` now.
    static func of(_ device: Device) -> DeviceMemoryBudget {
        let hostFree = max(0, min(Memory.hostLimit &- Memory.liveHostBytes.load(ordering: .relaxed), Memory.availableNow() ?? Int.max))
        guard let cl = device.openCL else {
            return DeviceMemoryBudget(totalBytes: hostFree / share, bufferBytes: hostFree / share)
        }
        var free = max(0, cl.globalMemoryBytes &- cl.liveBytes.load(ordering: .relaxed))
        if cl.hostUnified { free = min(free, hostFree) }
        return DeviceMemoryBudget(totalBytes: free / share, bufferBytes: min(cl.maxAllocBytes, free / share))
    }
}
