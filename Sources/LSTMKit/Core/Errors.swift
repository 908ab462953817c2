/// Errors for bad input and unusable devices. Every message names the value or shape at fault.
public enum LSTMKitError: Error, Equatable, CustomStringConvertible {
    /// A tensor's shape does not fit: `what` names the tensor, `expected` describes the shape it needs.
    case shapeMismatch(what: String, expected: String, got: [Int])
    /// A sequence length outside 1...T.
    case invalidLength(index: Int, length: Int, maxLength: Int)
    /// The batch (or time) dimension is 0.
    case emptyBatch(what: String)
    /// A device string or index that names no device.
    case unknownDevice(String)
    /// No OpenCL platform is installed (and the caller asked for OpenCL, not "any device").
    case noOpenCLPlatform
    /// A tensor lives on another device than the layer.
    case deviceMismatch(what: String, expected: String, got: String)
    /// A configuration value out of range (e.g. hidden size 0, dropout 1.5).
    case invalidArgument(name: String, value: String, reason: String)
    /// The operation needs a prior forward pass (e.g. backward).
    case noForwardPass
    /// A value precision this device does not support (OpenCL runs Float32 only).
    case unsupportedPrecision(String)
    /// A state-dict or safetensors file does not match: names the tensor and the reason.
    case stateDict(tensor: String, reason: String)
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// Training produced a NaN or infinite loss; the update of that step was not applied.
    case nonFiniteLoss(epoch: Int, step: Int, value: Double)
    /// A dataset with no samples, or x and y with different sample counts.
    case emptyDataset(String)
    /// The model must be compiled (optimizer and loss) before training or evaluating.
    case notCompiled
    /// An allocation of `bytes` on `device` failed or was refused up front (more than the device or the process
    /// can hold): `reason` says which limit.
    case outOfMemory(bytes: Int, device: String, reason: String)
    /// "gpu" was asked for but OpenCL has no GPU or accelerator; `found` lists the OpenCL devices there are.
    case noGPU(found: [String])

    public var description: String {
        switch self {
        case let .shapeMismatch(what, expected, got):
            return "shape mismatch for \(what): expected \(expected), got \(got)"
        case let .invalidLength(index, length, maxLength):
            return "invalid sequence length \(length) at batch index \(index): lengths must be in 1...\(maxLength)"
        case let .emptyBatch(what):
            return "empty \(what): every dimension of the input must be at least 1"
        case let .unknownDevice(name):
            return "unknown device '\(name)': use 'cpu', 'opencl', 'opencl:N' or 'opencl:P:N' (see Device.list())"
        case .noOpenCLPlatform:
            return "no OpenCL platform found (install an ICD such as pocl-opencl-icd), or ask for Device.any to fall back to the CPU"
        case let .deviceMismatch(what, expected, got):
            return "\(what) is on \(got), expected \(expected)"
        case let .invalidArgument(name, value, reason):
            return "invalid \(name) = \(value): \(reason)"
        case .noForwardPass:
            return "backward called without a preceding forward pass"
        case let .unsupportedPrecision(what):
            return "unsupported precision: \(what)"
        case let .stateDict(tensor, reason):
            return "state dict tensor '\(tensor)': \(reason)"
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .nonFiniteLoss(epoch, step, value):
            return "loss became \(value) at epoch \(epoch), step \(step); training stopped before applying that update (the last checkpoint is kept)"
        case let .emptyDataset(what):
            return "empty dataset: \(what)"
        case .notCompiled:
            return "the model is not compiled: call compile(optimizer:loss:metrics:) first"
        case let .outOfMemory(bytes, device, reason):
            return "out of memory on \(device): cannot allocate \(bytes) bytes (\(bytes >> 20) MiB): \(reason)"
        case let .noGPU(found):
            return "no OpenCL GPU or accelerator (OpenCL devices: \(found.isEmpty ? "none" : found.joined(separator: ", "))): "
                + "use 'cpu', 'opencl' (OpenCL on the CPU) or 'any'"
        }
    }
}
