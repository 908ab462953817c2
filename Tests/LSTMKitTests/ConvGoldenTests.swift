import Foundation
import XCTest
@testable import LSTMKit

/// Conv2D, MaxPooling2D, AveragePooling2D and GlobalAveragePooling2D against PyTorch (nn.Conv2d, F.max_pool2d,
/// F.avg_pool2d with the channels-last permutes and Keras 'same' padding as an explicit F.pad), forward and every
/// gradient, on both devices. Fixtures: Tests/Fixtures/make_conv_fixtures.py (torch 2.13, Float32).
/// Bounds: both sides run Float32 and sum at most C*KH*KW = 36 products (forward) or rows = 98 products (weight
/// gradient) in a different order, so forward within 2e-6 + 1e-5 relative and gradients within 1e-5 of the
/// largest magnitude of each tensor (as PyTorchGoldenTests). Each case prints its errors.
final class ConvGoldenTests: XCTestCase {
    static let convCases = ["basic_relu", "stride2", "same_odd_stride2", "same_stride1_even_kernel", "dilation", "dilation_same",
                            "pointwise_no_bias", "pointwise_stride2"]
    static let poolCases = ["max_2x2", "max_3x3_s2_same_odd", "max_overlap_s1", "avg_2x2", "avg_3x3_s2_same_odd", "global_avg"]

    func fixture(_ name: String) throws -> [String: SafeTensors.Entry] {
        try SafeTensors.read(fixturesDirectory.appendingPathComponent("\(name).safetensors"))
    }

    /// Forward with the fixture's input, backward with its grad_output; returns (output, dInput).
    func run(_ layer: Layer, _ f: [String: SafeTensors.Entry], on device: Device) throws -> ([Double], [Double]) {
        let x = f["input"]!
        _ = try layer.build(inputShape: Array(x.shape.dropFirst()), device: device, seed: 1)
        for (name, tensor) in layer.namedParameters { try tensor.assign(f[name]!.values) }
        let y = try layer.forward(MaskedTensor(try Tensor(shape: x.shape, doubles: x.values, device: device)), training: true).tensor
        XCTAssertEqual(y.shape, f["output"]!.shape)
        let dy = try Tensor(shape: y.shape, doubles: f["grad_output"]!.values, device: device)
        let dx = try layer.backward(dy)!
        XCTAssertEqual(dx.shape, x.shape)
        return (try y.toDoubles(), try dx.toDoubles())
    }

    /// The gradient of parameter `name` (same offset in the gradient buffer as in the parameter buffer).
    func gradient(_ layer: Layer, _ name: String) throws -> [Double] {
        let tensor = layer.namedParameters.first { $0.name == name }!.tensor
        let buffer = layer.parameterBuffers.first { $0.parameters.view.buffer === tensor.view.buffer }!
        let offset = tensor.view.offset - buffer.parameters.view.offset
        return Array(try buffer.gradients.toDoubles()[offset..<(offset + tensor.count)])
    }

    func compare(_ tag: String, _ got: [Double], _ expected: [Double], forward: Bool) -> Double {
        let scale = maxAbs(expected)
        if forward { assertClose(got, expected, atol: 2e-6, rtol: 1e-5, tag) } else { assertClose(got, expected, atol: 1e-5 * scale, tag) }
        return maxAbsDiff(got, expected) / (forward ? 1 : max(scale, .leastNormalMagnitude))
    }

    func checkConv(_ name: String, on device: Device) throws {
        let f = try fixture("conv_" + name)
        let c = f["config"]!.values.map { Int($0) }
        let layer = Conv2D(filters: c[3], kernelSize: (c[4], c[5]), strides: (c[6], c[7]), padding: c[10] == 1 ? .same : .valid,
                           dilation: (c[8], c[9]), activation: [.linear, .relu, .tanh, .sigmoid][c[11]], useBias: c[12] == 1)
        let (y, dx) = try run(layer, f, on: device)
        let tag = "Conv2D \(name) on \(device)"
        var errors = [String(format: "output %.1e", compare(tag + ": output", y, f["output"]!.values, forward: true)),
                      String(format: "grad.input %.1e", compare(tag + ": grad.input", dx, f["grad.input"]!.values, forward: false))]
        for p in layer.useBias ? ["weight", "bias"] : ["weight"] {
            errors.append(String(format: "grad.\(p) %.1e", compare(tag + ": grad.\(p)", try gradient(layer, p), f["grad." + p]!.values, forward: false)))
        }
        print("golden \(tag): abs error " + errors.joined(separator: ", ") + " (gradients relative to their largest value)")
    }

    func checkPool(_ name: String, on device: Device) throws {
        let f = try fixture("pool_" + name)
        let c = f["config"]!.values.map { Int($0) }
        let padding: Padding = c[7] == 1 ? .same : .valid
        let layer: Layer = [MaxPooling2D(poolSize: (c[3], c[4]), strides: (c[5], c[6]), padding: padding),
                            AveragePooling2D(poolSize: (c[3], c[4]), strides: (c[5], c[6]), padding: padding),
                            GlobalAveragePooling2D()][c[8]]
        let (y, dx) = try run(layer, f, on: device)
        let tag = "\(type(of: layer)) \(name) on \(device)"
        let e1 = compare(tag + ": output", y, f["output"]!.values, forward: true)
        let e2 = compare(tag + ": grad.input", dx, f["grad.input"]!.values, forward: false)
        print("golden \(tag): abs error output \(String(format: "%.1e", e1)), grad.input \(String(format: "%.1e", e2)) (relative to its largest value)")
    }

    func testConv2DAgainstPyTorch() throws {
        try onBothDevices { device in for name in Self.convCases { try checkConv(name, on: device) } }
    }

    func testPoolingAgainstPyTorch() throws {
        try onBothDevices { device in for name in Self.poolCases { try checkPool(name, on: device) } }
    }

    /// The documented Keras conversion: a Keras kernel [KH, KW, C, O] is weight.transpose(3, 2, 0, 1) of PyTorch's
    /// layout; `Conv2D.pytorchWeight(fromKeras:)` does it, and `kerasKernel` goes back.
    func testKerasKernelConversion() throws {
        let f = try fixture("conv_same_odd_stride2")
        let w = f["weight"]!  // [O, C, KH, KW]
        let (O, C, KH, KW) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        var keras = [Float](repeating: 0, count: w.values.count)
        for o in 0..<O { for c in 0..<C { for h in 0..<KH { for k in 0..<KW {
            keras[((h * KW + k) * C + c) * O + o] = Float(w.values[((o * C + c) * KH + h) * KW + k])
        } } } }
        let back = try Conv2D.pytorchWeight(fromKeras: keras, kernelShape: [KH, KW, C, O])
        XCTAssertEqual(back, w.values.map(Float.init))
        XCTAssertEqual(try Conv2D.kerasKernel(fromPyTorch: back, weightShape: [O, C, KH, KW]), keras)
    }
}
