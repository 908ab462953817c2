import Foundation
import XCTest
@testable import LSTMKit

/// Conv2D and the pooling layers: Float64 finite differences through Sequential, OpenCL-vs-CPU parity on odd shapes,
/// typed errors on bad input, and the Keras config round trip.
final class ConvLayerTests: XCTestCase {
    // MARK: Finite differences

    /// Central differences (eps 1e-6) of the mean loss w.r.t. every parameter, on the CPU in Float64, through the path
    /// `fit` takes. Truncation ~1e-12, rounding ~1e-10: 1e-6 absolute separates right from wrong. The layers under
    /// each convolution are checked through its parameters (their input gradients feed it).
    func check(_ layers: [Layer], x: DataArray, y: DataArray, loss: Loss, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = Sequential(layers, device: .cpuFloat64, seed: 3)
        try model.compile(optimizer: SGD(), loss: loss)
        let data = try model.prepare(x: x, y: y, what: what)
        let input = MaskedTensor(data.x, lengths: data.lengths)
        _ = try model.computeGradients(input, data.y!)
        func lossValue() throws -> Double {
            try model.lossAndMetrics(output: model.forward(input, training: true), target: data.y!).0.loss
        }
        let eps = 1e-6
        var checked = 0
        for (name, tensor) in model.namedParameters {
            let buffer = model.parameterBuffers.first { $0.parameters.view.buffer === tensor.view.buffer }!
            let offset = tensor.view.offset - buffer.parameters.view.offset
            let analytic = Array(try buffer.gradients.toDoubles()[offset..<(offset + tensor.count)])
            var values = try tensor.toDoubles()
            var numeric: [Double] = []
            for i in values.indices {
                let v = values[i]
                values[i] = v + eps; try tensor.assign(values); let plus = try lossValue()
                values[i] = v - eps; try tensor.assign(values); let minus = try lossValue()
                values[i] = v; try tensor.assign(values)
                numeric.append((plus - minus) / (2 * eps))
            }
            XCTAssertGreaterThan(maxAbs(numeric), 1e-6, "\(what): d loss / d \(name) is all zero: the check would not see a wrong gradient", file: file, line: line)
            assertClose(analytic, numeric, atol: 1e-6, "\(what): d loss / d \(name)", file: file, line: line)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 0)
    }

    func data(_ shape: [Int], seed: UInt64) -> DataArray {
        try! DataArray(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed).map(Float.init))
    }

    func testFiniteDifferencesTimeDistributedConvLSTM() throws {
        // The seed model: TimeDistributed(Conv2D relu) -> TimeDistributed(MaxPooling2D) -> TimeDistributed(Flatten) -> LSTM -> Dense softmax.
        try check([TimeDistributed(Conv2D(filters: 3, kernelSize: 3, activation: .relu)), TimeDistributed(MaxPooling2D(poolSize: 2)),
                   TimeDistributed(Flatten()), LSTMLayer(units: 4), Dense(units: 3, activation: .softmax)],
                  x: data([3, 3, 7, 6, 2], seed: 1), y: DataArray([0, 2, 1]), loss: .sparseCategoricalCrossentropy(), "seed model")
    }

    func testFiniteDifferencesStridesPaddingDilationPools() throws {
        try check([Conv2D(filters: 3, kernelSize: (4, 3), strides: (2, 2), padding: .same, activation: .tanh),
                   AveragePooling2D(poolSize: (3, 3), strides: (2, 1), padding: .same),
                   Conv2D(filters: 2, kernelSize: 2, padding: .same, dilation: 2, activation: .sigmoid),
                   MaxPooling2D(poolSize: (2, 3), strides: (1, 1)),
                   Conv2D(filters: 3, kernelSize: 1, useBias: false),
                   GlobalAveragePooling2D(), Dense(units: 2)],
                  x: data([2, 9, 11, 2], seed: 2), y: data([2, 2], seed: 3), loss: .meanSquaredError, "stride, same, dilation, 1x1, pools")
    }

    // MARK: OpenCL vs CPU

    /// Every conv and pool kernel on odd shapes (not multiples of any work-group or vector width), forward and
    /// backward, OpenCL against the CPU in Float32. Both sum the same products in other orders (gemm blocking,
    /// gather vs scatter), so within 1e-5 + 1e-5 relative (values O(1), sums of <= 5*5*7 = 175 terms).
    func testOpenCLMatchesCPUOnOddShapes() throws {
        let gpu = try openCLDeviceOrSkip()
        func layers() -> [Layer] {
            [TimeDistributed(Conv2D(filters: 13, kernelSize: (5, 3), strides: (1, 2), padding: .same, activation: .relu)),
             TimeDistributed(MaxPooling2D(poolSize: (3, 2), strides: (2, 1), padding: .same)),
             TimeDistributed(Conv2D(filters: 7, kernelSize: 3, dilation: 2, activation: .sigmoid)),
             TimeDistributed(AveragePooling2D(poolSize: 2, strides: 1)),
             TimeDistributed(Conv2D(filters: 5, kernelSize: 1, activation: .tanh)),
             TimeDistributed(GlobalAveragePooling2D()), LSTMLayer(units: 9), Dense(units: 3)]
        }
        let x = data([3, 5, 19, 23, 7], seed: 9), y = data([3, 3], seed: 10)
        var results: [[Double]] = []
        for device in [Device.cpu, gpu] {
            let model = Sequential(layers(), device: device, seed: 4)
            try model.compile(optimizer: SGD(), loss: .meanSquaredError)
            let d = try model.prepare(x: x, y: y, what: "parity")
            _ = try model.computeGradients(MaskedTensor(d.x), d.y!)
            var out = try model.forward(MaskedTensor(d.x), training: false).tensor.toDoubles()
            for b in model.parameterBuffers { out += try b.gradients.toDoubles() }
            // The input gradient through every layer (the first Conv2D's col2im included).
            _ = try model.forward(MaskedTensor(d.x), training: true)
            out += try model.backward(try Tensor(shape: [3, 3], doubles: randomValues(9, seed: 11), device: device))!.toDoubles()
            results.append(out)
        }
        assertClose(results[1], results[0], atol: 1e-5, rtol: 1e-5, "OpenCL vs CPU: output, every parameter gradient, input gradient")
    }

    // MARK: Variable frames per clip

    /// Clips of different lengths padded on the right: the lengths of the MaskedTensor pass through TimeDistributed to
    /// the LSTM, so a clip's output is that of the clip alone (its first `length` frames), whatever the padding holds.
    func testTimeDistributedPassesClipLengthsToTheLSTM() throws {
        try onBothDevices { device in
            let model = Sequential([TimeDistributed(Conv2D(filters: 3, kernelSize: 3, activation: .relu)), TimeDistributed(MaxPooling2D()),
                                    TimeDistributed(Flatten()), LSTMLayer(units: 4)], device: device, seed: 2)
            try model.build(inputShape: [5, 6, 6, 1])
            let frame = 36, values = randomValues(2 * 5 * frame, seed: 5)
            let padded = try model.forward(MaskedTensor(try Tensor(shape: [2, 5, 6, 6, 1], doubles: values, device: device), lengths: [3, 5]),
                                           training: false).tensor.toDoubles()
            // Clip 0 alone, 3 frames, no padding; clip 1 whole.
            let short = try model.forward(MaskedTensor(try Tensor(shape: [1, 3, 6, 6, 1], doubles: Array(values[0..<(3 * frame)]), device: device)),
                                          training: false).tensor.toDoubles()
            let full = try model.forward(MaskedTensor(try Tensor(shape: [1, 5, 6, 6, 1], doubles: Array(values[(5 * frame)...]), device: device)),
                                         training: false).tensor.toDoubles()
            // The same arithmetic on the same values, in batches of another size: float32 rounding only (gemm blocking).
            assertClose(padded, short + full, atol: 1e-6, rtol: 1e-5, "lengths [3, 5] on \(device)")
            XCTAssertGreaterThan(maxAbsDiff(Array(padded[0..<4]),
                                            try model.forward(MaskedTensor(try Tensor(shape: [1, 5, 6, 6, 1], doubles: Array(values[0..<(5 * frame)]), device: device)),
                                                              training: false).tensor.toDoubles()), 1e-4, "the padding frames would change clip 0's output")
        }
    }

    // MARK: Bad input

    func expectError(_ what: String, contains: [String], _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("\(what): no error", file: file, line: line)
        } catch let error as LSTMKitError {
            let text = "\(error)"
            for part in contains { XCTAssertTrue(text.contains(part), "\(what): '\(text)' does not name '\(part)'", file: file, line: line) }
        } catch {
            XCTFail("\(what): not an LSTMKitError: \(error)", file: file, line: line)
        }
    }

    func testBadInputGivesTypedErrors() throws {
        func build(_ layer: Layer, _ shape: [Int]) throws { _ = try layer.build(inputShape: shape, device: .cpu, seed: 0) }
        expectError("kernel larger than the input", contains: ["Conv2D", "[4, 9, 1]", "kernel (5, 5)"]) {
            try build(Conv2D(filters: 2, kernelSize: 5), [4, 9, 1])
        }
        expectError("dilated kernel larger than the input", contains: ["Conv2D", "[6, 6, 1]", "dilated by (3, 3)"]) {
            try build(Conv2D(filters: 2, kernelSize: 3, dilation: 3), [6, 6, 1])
        }
        expectError("zero stride", contains: ["Conv2D.strides", "(0, 1)"]) { try build(Conv2D(filters: 2, kernelSize: (3, 3), strides: (0, 1)), [8, 8, 1]) }
        expectError("negative stride", contains: ["MaxPooling2D.strides", "(2, -1)"]) { try build(MaxPooling2D(poolSize: (2, 2), strides: (2, -1)), [8, 8, 1]) }
        expectError("zero pool", contains: ["AveragePooling2D.poolSize", "(0, 2)"]) { try build(AveragePooling2D(poolSize: (0, 2)), [8, 8, 1]) }
        expectError("frame rank 2", contains: ["Conv2D input (per sample)", "[28, 28]"]) { try build(Conv2D(filters: 2, kernelSize: 3), [28, 28]) }
        expectError("frame rank 4 inside TimeDistributed", contains: ["Conv2D input (per sample)", "[3, 28, 28, 1]"]) {
            try build(TimeDistributed(Conv2D(filters: 2, kernelSize: 3)), [10, 3, 28, 28, 1])
        }
        expectError("pool rank 2", contains: ["MaxPooling2D input (per sample)", "[5, 5]"]) { try build(MaxPooling2D(), [5, 5]) }
        expectError("stride with dilation (Keras rejects it)", contains: ["Conv2D.strides", "(2, 2)", "dilation"]) {
            try build(Conv2D(filters: 2, kernelSize: 3, strides: 2, padding: .same, dilation: 2), [9, 9, 1])
        }
        expectError("pool leaving no output", contains: ["MaxPooling2D", "leaves no output", "[1, 5, 3]"]) { try build(MaxPooling2D(poolSize: 2), [1, 5, 3]) }
        expectError("average pool leaving no output", contains: ["AveragePooling2D", "leaves no output", "[4, 2, 1]"]) {
            try build(AveragePooling2D(poolSize: (3, 3)), [4, 2, 1])
        }
        expectError("softmax conv", contains: ["Conv2D.activation", "softmax"]) { try build(Conv2D(filters: 2, kernelSize: 1, activation: .softmax), [3, 3, 1]) }
        expectError("zero filters", contains: ["Conv2D.filters", "0"]) { try build(Conv2D(filters: 0, kernelSize: 1), [3, 3, 1]) }
        // A batch whose frame differs from the built one.
        let conv = Conv2D(filters: 2, kernelSize: 3)
        try build(conv, [5, 5, 1])
        expectError("forward with another frame", contains: ["Conv2D input", "[2, 6, 5, 1]"]) {
            _ = try conv.forward(MaskedTensor(try Tensor.zeros([2, 6, 5, 1])), training: false)
        }
        // Through the public API: a 4-D sample where a 5-D one is needed.
        let model = Sequential([TimeDistributed(Conv2D(filters: 2, kernelSize: 3)), TimeDistributed(Flatten()), LSTMLayer(units: 2)])
        try model.compile(optimizer: SGD(), loss: .meanSquaredError)
        expectError("fit with frames of rank 2", contains: ["Conv2D input (per sample)", "[8, 8]"]) {
            try model.fit(x: self.data([2, 3, 8, 8], seed: 1), y: self.data([2, 2], seed: 2), verbose: 0)
        }
    }

    // MARK: Config

    /// Every image-sequence layer type, with non-default options, ending in an LSTM and a softmax head.
    static func saveLoadLayers() -> [Layer] {
        [TimeDistributed(Conv2D(filters: 3, kernelSize: (3, 2), strides: (1, 1), padding: .same, dilation: (2, 1), activation: .tanh)),
         TimeDistributed(MaxPooling2D(poolSize: 2)),
         TimeDistributed(Conv2D(filters: 4, kernelSize: 1, activation: .relu)),
         TimeDistributed(AveragePooling2D(poolSize: 2, strides: 1, padding: .same)),
         TimeDistributed(Flatten()),
         LSTMLayer(units: 5, returnSequences: true),
         LSTMLayer(units: 4),
         Dense(units: 3, activation: .softmax)]
    }

    /// A model with every image-sequence layer saves (model.json version 2 + weights) and loads to the same
    /// predictions, bit for bit on the CPU (same weights, same code path); a GlobalAveragePooling2D model too.
    func testModelsWithConvLayersSaveAndLoad() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lstmkit-conv-save-\(getpid())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = data([3, 4, 7, 6, 2], seed: 41)
        for (i, layers) in [Self.saveLoadLayers(), [Conv2D(filters: 3, kernelSize: 3), GlobalAveragePooling2D(), Dense(units: 2)]].enumerated() {
            let model = Sequential(layers, device: .cpu, seed: 9)
            try model.build(inputShape: i == 0 ? [4, 7, 6, 2] : [7, 6, 2])
            let input = i == 0 ? x : data([3, 7, 6, 2], seed: 42)
            let before = try model.predict(input)
            try model.save(to: directory)
            let loaded = try Sequential.load(from: directory, device: .cpu)
            XCTAssertEqual(AnyLayerConfig(layer: loaded), AnyLayerConfig(layer: model), "model \(i): the same architecture")
            XCTAssertEqual(try loaded.predict(input).values, before.values, "model \(i): the same predictions")
        }
    }

    func testKerasConfigRoundTrip() throws {
        func roundTrip<L: ConfigurableLayer>(_ layer: L, json expected: String) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let data = try encoder.encode(layer.config)
            XCTAssertEqual(String(decoding: data, as: UTF8.self), expected, L.kerasClassName)
            let decoded = try JSONDecoder().decode(L.Config.self, from: data)
            XCTAssertEqual(decoded, layer.config)
            XCTAssertEqual(try L(config: decoded).config, layer.config)
        }
        try roundTrip(Conv2D(filters: 32, kernelSize: (3, 5), strides: (2, 1), padding: .same, dilation: (1, 1), activation: .relu, useBias: false),
                      json: #"{"activation":"relu","dilation_rate":[1,1],"filters":32,"kernel_size":[3,5],"padding":"same","strides":[2,1],"use_bias":false}"#)
        try roundTrip(MaxPooling2D(poolSize: (2, 3)), json: #"{"padding":"valid","pool_size":[2,3],"strides":[2,3]}"#)
        try roundTrip(AveragePooling2D(poolSize: 3, strides: 1, padding: .same), json: #"{"padding":"same","pool_size":[3,3],"strides":[1,1]}"#)
        try roundTrip(GlobalAveragePooling2D(), json: "{}")
        try roundTrip(Flatten(), json: "{}")
        XCTAssertEqual(Conv2D.kerasClassName, "Conv2D")
        // A Keras config with one kernel size is rejected with the key's name.
        let bad = #"{"activation":"relu","dilation_rate":[1,1],"filters":3,"kernel_size":[3],"padding":"same","strides":[1,1],"use_bias":true}"#
        expectError("kernel_size of one value", contains: ["Conv2D.kernel_size", "[3]"]) {
            _ = try Conv2D(config: try JSONDecoder().decode(Conv2D.Config.self, from: Data(bad.utf8)))
        }
    }
}
