/// `Dense` (or `TimeDistributed(Dense)`) for one step: x [B, F] -> activation(x . W^T + b) [B, units], one
/// `denseStep` call (on the CPU one C call; on OpenCL gemm, bias and activation).
final class DenseStreamStepper: StreamStepper {
    let device: Device, batch: Int, features: Int, outputWidth: Int
    let activation: Activation
    let weight: BufferView, bias: BufferView?
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
    }
    func initialState() throws -> [Tensor] { [] }
    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView {
        try device.inference.denseStep(batch: batch, features: features, units: outputWidth, x: x, weight: weight, bias: bias,
                                       activation: activation, out: BufferView(out))
        return BufferView(out)
    }
}
