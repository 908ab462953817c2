// Next term of arithmetic sequences: the LSTMKit port of sequence.py, line for line (see README, "PyTorch-style").
//
//     python3 Examples/PyTorchSequence/sequence.py --seed 0          # writes data.npz, prints PyTorch's test MSE
//     swift run -c release pytorch-sequence --seed 0                 # the same data and settings on LSTMKit
import Foundation
import LSTMKit

var options = ["--seed": "0", "--epochs": "60", "--hidden": "32", "--lr": "0.01", "--batch-size": "64",
               "--data": URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("data.npz").path]
var arguments = Array(CommandLine.arguments.dropFirst())
while arguments.count >= 2, options[arguments[0]] != nil { options[arguments[0]] = arguments[1]; arguments.removeFirst(2) }
guard arguments.isEmpty, let seed = UInt64(options["--seed"]!), let epochs = Int(options["--epochs"]!), let hidden = Int(options["--hidden"]!),
      let lr = Double(options["--lr"]!), let batchSize = Int(options["--batch-size"]!) else {
    fatalError("usage: pytorch-sequence [--seed S] [--epochs E] [--hidden H] [--lr LR] [--batch-size B] [--data data.npz]")
}

let data = try DataArray.npz(URL(fileURLWithPath: options["--data"]!))         // np.load(args.data)
let (xTrain, yTrain, xTest, yTest) = (data["x_train"]!, data["y_train"]!, data["x_test"]!, data["y_test"]!)
let device = Device.any()                                                      // the CPU path unless there is a GPU
var generator = SeededGenerator(seed: seed)                                    // torch.manual_seed(args.seed)

final class Net: ParameterOwner {                                              // class Net(nn.Module):
    let lstm: LSTM, fc: Linear
    private var outShape: [Int] = []
    init(hidden: Int, device: Device, seed: UInt64) throws {
        lstm = try LSTM(inputSize: 1, hiddenSize: hidden, batchFirst: true, device: device, seed: seed)   // nn.LSTM(1, hidden, batch_first=True)
        fc = try Linear(inFeatures: hidden, outFeatures: 1, device: device, seed: seed &+ 1)            // nn.Linear(hidden, 1)
    }
    func forward(_ x: Tensor) throws -> Tensor {
        let (out, _) = try lstm.forward(x)                                     // out, _ = self.lstm(x)
        outShape = out.shape
        return try fc.forward(try out.select(axis: 1, index: -1))              // self.fc(out[:, -1, :])
    }
    func backward(_ grad: Tensor) throws {                                     // (autograd)
        let dLast = try fc.backward(gradOutput: grad)!
        _ = try lstm.backward(gradOutput: try Tensor.selectBackward(dLast, inputShape: outShape, axis: 1, index: -1), inputGradient: false)
    }
    func zeroGrad() throws { try lstm.zeroGrad(); try fc.zeroGrad() }
    var parameterBuffers: [ParameterBuffer] { lstm.parameterBuffers + fc.parameterBuffers }
}

func tensor(_ a: DataArray, _ rows: [Int]) throws -> Tensor {
    let part = a.rows(rows)
    return try Tensor(shape: part.shape, values: part.values, device: device)
}

let model = try Net(hidden: hidden, device: device, seed: seed)              // model = Net(args.hidden)
let optimizer = try Adam(learningRate: lr)                                     // torch.optim.Adam(model.parameters(), lr=args.lr)
for _ in 0..<epochs {                                                          // for epoch in range(args.epochs):
    let permutation = Array(0..<xTrain.count).shuffled(using: &generator)      // torch.randperm(len(x_train))
    for start in stride(from: 0, to: xTrain.count, by: batchSize) {            // for start in range(0, len(x_train), args.batch_size):
        let batch = Array(permutation[start..<min(start + batchSize, xTrain.count)])
        try model.zeroGrad()                                                   // optimizer.zero_grad()
        let (_, grad) = try mseLoss(try model.forward(try tensor(xTrain, batch)), try tensor(yTrain, batch))   // F.mse_loss(...)
        try model.backward(grad)                                               // loss.backward()
        try optimizer.step([model])                                            // optimizer.step()
    }
}
let all = Array(0..<xTest.count)
let testMSE = try mseLoss(try model.forward(try tensor(xTest, all)), try tensor(yTest, all)).loss.item()   // with torch.no_grad(): ...
print(String(format: "seed %llu: test MSE %.3e (%@)", seed, testMSE, device.description))
