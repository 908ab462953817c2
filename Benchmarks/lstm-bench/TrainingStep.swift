@_spi(Benchmark) import LSTMKit

/// One training step, as PyTorch's `opt.zero_grad(); loss = mse(lstm(x), target); loss.backward(); opt.step()`:
/// zero the gradients, forward, the MSE over all outputs and its gradient (the training stack's loss kernel,
/// on the device), backward, and one Adam update (`Adam(learningRate: 1e-3)`, one fused kernel per buffer).
/// The loss value is not read back (PyTorch's loop does not read it either). x is data, as PyTorch's x without
/// `requires_grad` and as `Sequential.fit`'s first layer: backward skips the input gradient. (PyTorch's CPU
/// LSTM, oneDNN, computes it anyway: its step took the same time with x.requires_grad True and False.)
final class TrainingStep {
    static let description = "zeroGrad + forward + MSE (device kernel) + backward (no input gradient: x is data) + Adam(lr 1e-3) step"
    let lstm: LSTM
    let target: Tensor
    let optimizer: Adam
    let gradient: Tensor
    let rowLoss: Tensor

    init(lstm: LSTM, target: Tensor) throws {
        self.lstm = lstm
        self.target = target
        optimizer = try Adam(learningRate: 1e-3)
        gradient = try Tensor.zeros(target.shape, device: target.device)
        rowLoss = try Tensor.zeros([target.count / target.shape.last!], device: target.device)
    }

    func step(_ x: Tensor) throws {
        try optimizer.zeroGrad([lstm])
        let (y, _) = try lstm.forward(x)
        try BenchmarkHooks.meanSquaredError(prediction: y, target: target, gradient: gradient, rowLoss: rowLoss)
        _ = try lstm.backward(gradOutput: gradient, inputGradient: false)
        try optimizer.step([lstm])
    }
}
