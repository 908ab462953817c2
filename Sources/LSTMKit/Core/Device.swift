import Foundation

/// Where tensors live and layers compute: the CPU (cblas + plain loops) or one OpenCL device.
///
///     let cpu = Device.cpu                       // Float32 on the CPU
///     let gpu = try Device.opencl()              // first OpenCL device (platform 0, device 0)
///     let dev = try Device.named("opencl:1")     // "cpu", "any", "opencl", "opencl:N" (N-th device overall), "opencl:P:D"
///     let env = try Device.fromEnvironment()     // LSTMKIT_DEVICE if set, else Device.any()
///
/// Devices are unique per OpenCL device: asking twice gives the same context and the same compiled programs.
public final class Device: @unchecked Sendable, CustomStringConvertible, Equatable {
    let backend: Backend
    /// The op families of `backend`, typed when the device is made: a backend that lacks one does not compile.
    let training: Backend & TrainingBackend
    let gru: Backend & GRUBackend
    let variants: Backend & LSTMVariantBackend
    let persistent: Backend & PersistentLSTMBackend
    /// Convolution and pooling (Kernels/conv.cl, pooling.cl), with the training ops they use.
    let conv: Backend & TrainingBackend & ConvBackend
    /// The tape-free inference cell and the streaming step (Kernels/inference.cl), with the training ops they use.
    let inference: Backend & InferenceBackend & TrainingBackend
    /// "cpu", "cpu(float64)" or "opencl:P:D (device name)".
    public let description: String
    /// The OpenCL context, nil on the CPU.
    let openCL: OpenCLContext?

    /// Internal for lstm-bench's tuned devices (Tuning+Benchmark.swift); everything else goes through the registry.
    init<B: Backend & TrainingBackend & GRUBackend & LSTMVariantBackend & PersistentLSTMBackend & ConvBackend & InferenceBackend>(
        backend: B, description: String, openCL: OpenCLContext?) {
        self.backend = backend
        (training, gru, variants, persistent, conv, inference) = (backend, backend, backend, backend, backend, backend)
        self.description = description
        self.openCL = openCL
    }

    public static func == (lhs: Device, rhs: Device) -> Bool { lhs === rhs }

    /// The value precision of this device's tensors.
    public var precision: Precision { backend.precision }
    /// True for an OpenCL device.
    public var isOpenCL: Bool { openCL != nil }

    /// The CPU in Float32.
    public static let cpu = Device(backend: CPUBackend<Float>(), description: "cpu", openCL: nil)
    /// The CPU in Float64 (finite-difference gradient checks).
    public static let cpuFloat64 = Device(backend: CPUBackend<Double>(), description: "cpu(float64)", openCL: nil)

    /// The CPU in the given precision.
    public static func cpu(precision: Precision) -> Device { precision == .float32 ? cpu : cpuFloat64 }

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [String: Device] = [:]

    /// OpenCL device `device` of platform `platform` (indices as in `Device.openCLDevices()`).
    /// Throws `LSTMKitError.noOpenCLPlatform` when no OpenCL platform exists, `.unknownDevice` for a bad index.
    public static func opencl(platform: Int = 0, device: Int = 0) throws -> Device {
        let key = "\(platform):\(device)"
        registryLock.lock(); defer { registryLock.unlock() }
        if let d = registry[key] { return d }
        let context: OpenCLContext
        do { context = try OpenCLContext(platformIndex: platform, deviceIndex: device) } catch OpenCLError.noPlatform {
            throw LSTMKitError.noOpenCLPlatform
        }
        let d = Device(backend: OpenCLBackend(context: context),
                       description: "opencl:\(key) (\(context.info.deviceName))", openCL: context)
        registry[key] = d
        return d
    }

    /// Every OpenCL device on this machine; empty when there is no OpenCL platform.
    public static func openCLDevices() -> [OpenCLDeviceInfo] {
        (try? OpenCLDiscovery.list()) ?? []
    }

    /// One line per usable device: "cpu", then each OpenCL device.
    public static func list() -> [String] {
        ["cpu  \(ProcessInfo.processInfo.activeProcessorCount) cores, cblas (OpenBLAS)"] + openCLDevices().map(\.description)
    }

    /// The first OpenCL GPU or accelerator, else the CPU path (`Device.cpu`). An OpenCL device of type CPU (PoCL)
    /// is not picked: on the machines measured it ran the tutorials 2-2.4x slower than the CPU path; ask for it
    /// with `Device.opencl()` or `"opencl"`. The only call that falls back to the CPU. `anyChoice()` says why.
    public static func any() -> Device { anyChoice().device }

    /// What `any()` picks and a one-line reason, e.g. `"no OpenCL GPU or accelerator (found: opencl:0:0 cpu-haswell
    /// (CPU)); the CPU path is faster than OpenCL on a CPU"`.
    public static func anyChoice() -> (device: Device, reason: String) {
        let devices = openCLDevices()
        for pick in devices where pick.isGPU || pick.isAccelerator {
            do {
                let d = try opencl(platform: pick.platformIndex, device: pick.deviceIndex)
                return (d, "the first OpenCL \(pick.isGPU ? "GPU" : "accelerator")")
            } catch {
                continue
            }
        }
        if devices.isEmpty { return (cpu, "no OpenCL platform") }
        let found = devices.map { "opencl:\($0.platformIndex):\($0.deviceIndex) \($0.deviceName) (CPU)" }.joined(separator: ", ")
        return (cpu, "no OpenCL GPU or accelerator (found: \(found)); the CPU path is faster than OpenCL on a CPU, pass opencl to use it")
    }

    /// The first OpenCL GPU (else accelerator); `LSTMKitError.noGPU` when there is none.
    static func gpu() throws -> Device {
        let devices = try OpenCLDiscovery.listOrThrowNoPlatform()
        guard let pick = devices.first(where: \.isGPU) ?? devices.first(where: \.isAccelerator) else {
            throw LSTMKitError.noGPU(found: devices.map { "\($0.deviceName) (CPU)" })
        }
        return try opencl(platform: pick.platformIndex, device: pick.deviceIndex)
    }

    /// Parses "cpu", "cpu64", "any", "gpu", "opencl", "opencl:N" (N-th OpenCL device overall) or "opencl:P:D".
    /// "gpu" is the first OpenCL GPU or accelerator and throws `LSTMKitError.noGPU` when there is none.
    public static func named(_ spec: String) throws -> Device {
        let s = spec.trimmingCharacters(in: .whitespaces).lowercased()
        switch s {
        case "cpu": return cpu
        case "cpu64", "cpu:float64": return cpuFloat64
        case "any", "auto": return any()
        case "gpu": return try gpu()
        case "opencl": return try opencl()
        default: break
        }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.first == "opencl", parts.count <= 3, parts.dropFirst().allSatisfy({ Int($0) != nil && Int($0)! >= 0 }) else {
            throw LSTMKitError.unknownDevice(spec)
        }
        let numbers = parts.dropFirst().map { Int($0)! }
        if numbers.count == 2 { return try opencl(platform: numbers[0], device: numbers[1]) }
        let all = try OpenCLDiscovery.listOrThrowNoPlatform()
        guard numbers[0] < all.count else {
            throw LSTMKitError.unknownDevice("\(spec) (there are \(all.count) OpenCL devices)")
        }
        return try opencl(platform: all[numbers[0]].platformIndex, device: all[numbers[0]].deviceIndex)
    }

    /// The device named by the environment variable LSTMKIT_DEVICE, else `Device.named(defaultSpec)`.
    public static func fromEnvironment(default defaultSpec: String = "any") throws -> Device {
        try named(Settings.text("LSTMKIT_DEVICE") ?? defaultSpec)
    }

    /// Waits until all work enqueued on this device is done.
    public func synchronize() throws { try backend.synchronize() }
}

extension OpenCLDiscovery {
    static func listOrThrowNoPlatform() throws -> [OpenCLDeviceInfo] {
        do { return try list() } catch OpenCLError.noPlatform { throw LSTMKitError.noOpenCLPlatform }
    }
}
