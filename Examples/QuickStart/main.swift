// The README's quick-start example: the same LSTM on the CPU and on OpenCL, trained one step's worth
// of gradients, giving the same numbers. Run: swift run quickstart
import LSTMKit

for device in [Device.cpu, Device.any()] {
    let lstm = try LSTM(inputSize: 8, hiddenSize: 16, numLayers: 2, batchFirst: true, bidirectional: true, device: device, seed: 42)
    let x = try Tensor(shape: [4, 10, 8], values: (0..<320).map { Float($0 % 17) / 17 - 0.5 }, device: device)
    let (y, (hn, _)) = try lstm.forward(x, lengths: [10, 7, 3, 1])        // y: [4, 10, 32], hn: [4, 4, 16]
    let dy = try Tensor(shape: y.shape, values: Array(repeating: 1, count: y.count), device: device)
    let grads = try lstm.backward(gradOutput: dy)                          // input, h0, c0 gradients
    let dW = try lstm.gradients["weight_hh_l0"]!.toArray()                 // PyTorch names, [64, 16]
    print(device, "sum(y) =", try y.toArray().reduce(0, +), "h_n[0,0,0] =", try hn.toArray()[0],
          "sum(dx) =", try grads.input.toArray().reduce(0, +), "sum(dW_hh) =", dW.reduce(0, +))
}
