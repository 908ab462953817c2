/// Functional losses for PyTorch-style loops: the loss and its gradient with respect to the prediction, both on
/// the prediction's device, from the same fused kernels `Sequential` trains with (nothing is read back).
///
///     let (loss, grad) = try Loss.meanSquaredError.compute(prediction, target)   // or mseLoss(prediction, target)
///     try linear.backward(gradOutput: grad)
///     print(try loss.item())
///
/// Reductions are PyTorch's `reduction="mean"`: MSE and binary cross-entropy average over every element;
/// categorical cross-entropies over the rows (all axes but the last). `prediction [..., C]`; the target has the
/// prediction's shape, or for `.sparseCategoricalCrossentropy` the prediction's shape without its last axis
/// (class ids as whole-number floats, as `F.cross_entropy`'s targets; they are read back once and checked to be in
/// 0..<classes, since the kernel would index past the row otherwise).
extension Loss {
    public func compute(_ prediction: Tensor, _ target: Tensor) throws -> (loss: LossValue, grad: Tensor) {
        let device = prediction.device
        guard target.device == device else {
            throw LSTMKitError.deviceMismatch(what: "loss target", expected: "\(device)", got: "\(target.device)")
        }
        guard prediction.shape.count >= 1, let cols = prediction.shape.last, cols >= 1, prediction.count > 0 else {
            throw LSTMKitError.shapeMismatch(what: "loss prediction", expected: "[..., classes >= 1] with no empty dimension", got: prediction.shape)
        }
        if prediction.shape.count == 1 && !isSparse {
            guard target.shape == prediction.shape else {
                throw LSTMKitError.shapeMismatch(what: "labels for \(self)", expected: "\(prediction.shape)", got: target.shape)
            }
        } else {
            try checkTarget(prediction: prediction.shape, target: target.shape)
        }
        if isSparse {
            // A class id outside 0..<cols would index past the row in the kernel: refuse it here (ids are read back).
            let ids = try target.toArray()
            if let i = ids.firstIndex(where: { !($0 >= 0 && $0 < Float(cols) && $0 == $0.rounded()) }) {
                throw LSTMKitError.invalidArgument(name: "class id at index \(i)", value: "\(ids[i])", reason: "must be a whole number in 0..<\(cols)")
            }
        }
        let rows = prediction.count / cols
        let (kind, scale) = kernel(fused: false, rows: rows, cols: cols)
        let be = device.training
        let rowLoss = try be.allocate(rows), grad = try be.allocate(prediction.count)
        try be.lossRows(kind, rows: rows, cols: cols, pred: prediction.view, target: target.view, scale: scale, rowLoss: rowLoss, grad: BufferView(grad))
        return (LossValue(rowLosses: Tensor(shape: [rows], view: BufferView(rowLoss), device: device), scale: scale),
                Tensor(shape: prediction.shape, view: BufferView(grad), device: device))
    }
}

/// `F.mse_loss(prediction, target)` (mean over all elements) and its gradient, on the device.
public func mseLoss(_ prediction: Tensor, _ target: Tensor) throws -> (loss: LossValue, grad: Tensor) {
    try Loss.meanSquaredError.compute(prediction, target)
}

/// `F.cross_entropy(logits, classIds)`: logits `[..., C]`, class ids shaped as the logits without the last axis.
public func crossEntropyLoss(_ logits: Tensor, _ classIds: Tensor) throws -> (loss: LossValue, grad: Tensor) {
    try Loss.sparseCategoricalCrossentropy(fromLogits: true).compute(logits, classIds)
}

/// `F.binary_cross_entropy_with_logits(logits, target)` (mean over all elements).
public func bceWithLogitsLoss(_ logits: Tensor, _ target: Tensor) throws -> (loss: LossValue, grad: Tensor) {
    try Loss.binaryCrossentropy(fromLogits: true).compute(logits, target)
}
