/// Makes the `StreamStepper`s of a list of layers (`Sequential`, nested ones flattened) or of one core.
enum StreamPlanBuilder {
    /// The steppers for `layers` run in order on inputs of `inputWidth` features per step.
    static func plan(layers: [Layer], device: Device, batch: Int, inputWidth: Int, vocabulary: Int?) throws -> StreamPlan {
        guard batch >= 1 else { throw LSTMKitError.invalidArgument(name: "batch", value: "\(batch)", reason: "must be at least 1") }
        let flat = flatten(layers)
        var steppers: [StreamStepper] = []
        var index = 0
        while index < flat.count {
            let layer = flat[index]
            switch layer {
            case let e as Embedding:
                // Embedding then a fused LSTM: the LSTM reads rows of its input-projection table (when small enough).
                if index + 1 < flat.count, let r = flat[index + 1] as? RecurrentLayer, r.merge == nil, !r.goBackwards, let lstm = r.core as? LSTM,
                   LSTMStreamStepper.supports(lstm), e.inputDim * 4 * lstm.hiddenSize <= LSTMStreamStepper.tableLimit {
                    steppers.append(try LSTMStreamStepper(lstm, batch: batch, embedding: e))
                    index += 2
                    continue
                }
                steppers.append(try EmbeddingStreamStepper(e, device: device, batch: batch))
            case let r as RecurrentLayer:
                guard r.merge == nil else { throw CoreStreamStepper.bidirectional() }
                guard !r.goBackwards else {
                    throw LSTMKitError.invalidArgument(name: "layer \(index) goBackwards", value: "true",
                                                       reason: "a layer that reads its input backwards cannot be stepped forward in time")
                }
                guard let core = r.core else {
                    throw LSTMKitError.invalidArgument(name: "\(r.cell)", value: "unbuilt", reason: "build the model before initialState(batch:)")
                }
                steppers.append(try stepper(core: core, batch: batch))
            case is Bidirectional:
                throw CoreStreamStepper.bidirectional()
            case let d as Dense:
                steppers.append(try DenseStreamStepper(d, device: device, batch: batch))
            case let t as TimeDistributed where t.inner is Dense:
                steppers.append(try DenseStreamStepper(t.inner as! Dense, device: device, batch: batch))
            case is Dropout:
                steppers.append(IdentityStreamStepper(width: steppers.last?.outputWidth ?? inputWidth))
            default:
                throw LSTMKitError.invalidArgument(name: "layer \(index)", value: AnyLayerConfig(layer: layer).className,
                                                   reason: "has no streaming step (Embedding, LSTM, GRU, Dense, TimeDistributed(Dense) and Dropout have)")
            }
            index += 1
        }
        return try StreamPlan(device: device, batch: batch, steppers: steppers, inputWidth: inputWidth, vocabulary: vocabulary)
    }

    /// The fused stepper for an LSTM it supports, else the core's own forward with T = 1.
    static func stepper(core: RecurrentCore, batch: Int) throws -> StreamStepper {
        if let lstm = core as? LSTM, LSTMStreamStepper.supports(lstm) { return try LSTMStreamStepper(lstm, batch: batch, embedding: nil) }
        return try CoreStreamStepper(core, batch: batch)
    }

    static func flatten(_ layers: [Layer]) -> [Layer] {
        layers.flatMap { ($0 as? Sequential).map { flatten($0.layers) } ?? [$0] }
    }
}
