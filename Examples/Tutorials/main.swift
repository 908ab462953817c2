import Foundation
import LSTMKit

// The LSTMKit ports of the Keras tutorials next to them (*.py), run on the same data (make_data.py).
//
//     swift run -c release tutorials                      # all three, seeds 0 1 2, on the CPU
//     swift run -c release tutorials text 0 --device opencl
let args = CommandLine.arguments.dropFirst()
let deviceName = args.firstIndex(of: "--device").map { args[args.index(after: $0)] } ?? "cpu"
let plain = args.filter { $0 != "--device" && $0 != deviceName }
let names = plain.first.map { [$0] } ?? ["text", "regression", "random"]
let seeds = plain.dropFirst().compactMap { UInt64($0) }
do {
    let device = try Device.named(deviceName)
    for name in names {
        for seed in seeds.isEmpty ? [0, 1, 2] : seeds {
            let start = Date()
            let value: Double
            switch name {
            case "text": value = try textClassification(seed: seed, device: device)
            case "regression": value = try regression(seed: seed, device: device)
            case "random": value = try randomLabels(seed: seed, device: device)
            default: throw LSTMKitError.invalidArgument(name: "tutorial", value: name, reason: "use text, regression or random")
            }
            let metric = name == "regression" ? "test_mse" : "test_accuracy"
            print("\(name) seed \(seed) \(metric) \(String(format: "%.4f", value)) (\(String(format: "%.1f", Date().timeIntervalSince(start))) s)")
        }
    }
} catch {
    print("error: \(error)")
    exit(1)
}
