/// `Embedding` for one step: ids [B] (floats) -> rows of the table [B, dim].
final class EmbeddingStreamStepper: StreamStepper {
    let device: Device, batch: Int, outputWidth: Int
    let table: BufferView
    let out: DeviceBuffer
    init(_ layer: Embedding, device: Device, batch: Int) throws {
        guard let weight = layer.namedParameters.first?.tensor else {
            throw LSTMKitError.invalidArgument(name: "Embedding", value: "unbuilt", reason: "build the model before initialState(batch:)")
        }
        self.device = device; self.batch = batch
        outputWidth = layer.outputDim
        table = weight.view
        out = try device.backend.allocate(batch * layer.outputDim)
    }
    func initialState() throws -> [Tensor] { [] }
    func step(_ x: BufferView, state: inout [Tensor]) throws -> BufferView {
        try device.training.embeddingForward(count: batch, dim: outputWidth, ids: x, table: table, out: out)
        return BufferView(out)
    }
}
