/// `Dense` (or `TimeDistributed(Dense)`) for one step: x [B, F] -> activation(x . W^T + b) [B, units], one
/// `denseStep` call (on the CPU one C call, over W^T packed at `initialState(batch:)`; on OpenCL gemm, bias and
/// activation).
final class DenseStreamStepper: StreamStepper {
    let device: Device, batch: Int, features: Int, outputWidth: Int
    let activation: Activation
    let weight: BufferView, bias: BufferView?
    /// W^T packed once for the backend's packed gemm (the CPU in Float32), as the LSTM stepper packs W_hh; nil elsewhere.
    let prepared: DeviceBuffer?
    let out: DeviceBuffer
    init(_ layer: Dense, device: Device, batch: Int) throws {
        let named = layer.namedParameters
        guard let w = named.first?.tensor else {
            throw LSTMKitError.invalidArgument(name: "Dense", value: "unbuilt", reason: "build the model before initialState(batch:)")
        }
        self.device = device; self.batch = batch
        features = w.shape[1]; outputWidth = layer.units
        activation = layer.activation
        weight = w.view
        bias = named.count > 1 ? named[1].tensor.view : nil
        out = try device.backend.allocate(batch * layer.units)
        if let packer = device.backend.packedGemm, let count = packer.packedOperandCount(k: features, n: outputWidth) {
            let buffer = try device.backend.allocate(count)
            try packer.packOperand(transB: true, k: features, n: outputWidth, b: weight, ldb: features, into: buffer)
            prepared = buffer
        } else {
            prepared = nil
        }
    }
    func initialState() throws -> [Tensor] { [] }
    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView {
        try device.inference.denseStep(batch: batch, features: features, units: outputWidth, x: x, weight: weight,
                                       prepared: prepared, bias: bias, activation: activation, out: BufferView(out))
        return BufferView(out)
    }
}
