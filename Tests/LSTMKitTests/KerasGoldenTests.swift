import XCTest
@testable import LSTMKit

/// LSTMKit's Keras-style layers against Keras 3 (fixtures from Tests/Fixtures/make_keras_fixtures.py, TensorFlow
/// backend): initialisation statistics, masking with left and right padding (outputs and gradients; at the steps after
/// a sequence's last step Keras repeats the last output and LSTMKit gives 0, as PyTorch and ONNX), the Dense
/// activations gelu/elu/selu/softplus.
final class KerasGoldenTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: SafeTensors.Entry] {
        try SafeTensors.read(fixturesDirectory.appendingPathComponent("keras_\(name).safetensors"))
    }

    static func stats(_ w: [Double]) -> (mean: Double, std: Double, min: Double, max: Double) {
        let n = Double(w.count), mean = w.reduce(0, +) / n
        let std = (w.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        return (mean, std, w.min()!, w.max()!)
    }

    /// Our draw's statistics against Keras's draw of the same initializer and shape. Both are samples of n values,
    /// so the tolerances are sampling noise: the means differ by < 6 sigma sqrt(2/n) + 1e-12, the standard
    /// deviations by < 6 sqrt(1/n) relative (the sample std's relative error is about sqrt(1/(2n)) for a normal,
    /// less for a uniform); bounded distributions' min/max (uniform, truncated normal) within 10% of the range for
    /// n = 320 and 3% for n >= 16384 (the gap of the extremes to the bound shrinks as 1/n).
    func assertSameDistribution(_ ours: [Double], _ keras: [Double], bounded: Bool, _ what: String) {
        let s = Self.stats(ours), n = Double(ours.count), sigma = max(keras[1], 1e-12)
        XCTAssertLessThanOrEqual(abs(s.mean - keras[0]), 6 * sigma * (2 / n).squareRoot() + 1e-12, "\(what): mean \(s.mean) vs Keras \(keras[0])")
        XCTAssertLessThanOrEqual(abs(s.std - keras[1]), 6 * keras[1] / n.squareRoot() + 1e-12, "\(what): std \(s.std) vs Keras \(keras[1])")
        if bounded {
            let tol = (n < 1000 ? 0.1 : 0.03) * (keras[3] - keras[2]) + 1e-12
            XCTAssertLessThanOrEqual(abs(s.min - keras[2]), tol, "\(what): min \(s.min) vs Keras \(keras[2])")
            XCTAssertLessThanOrEqual(abs(s.max - keras[3]), tol, "\(what): max \(s.max) vs Keras \(keras[3])")
        }
    }

    /// max |G - I| of the Gram matrix of the rows (rows <= cols) or columns of a row-major [rows, cols] matrix.
    static func gramError(_ w: [Double], rows: Int, cols: Int) -> Double {
        let byRows = rows <= cols, k = byRows ? rows : cols, len = byRows ? cols : rows
        func v(_ i: Int, _ p: Int) -> Double { byRows ? w[i * cols + p] : w[p * cols + i] }
        var worst = 0.0
        for i in 0..<k {
            for j in i..<k {
                var dot = 0.0
                for p in 0..<len { dot += v(i, p) * v(j, p) }
                worst = max(worst, abs(dot - (i == j ? 1 : 0)))
            }
        }
        return worst
    }

    func testInitializerStatisticsMatchKeras() throws {
        let f = try fixture("initializers")
        let names = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
                     "orthogonal", "zeros", "ones", "random_uniform", "random_normal", "truncated_normal"]
        for name in names {
            let initializer = try Initializer(kerasName: name)
            for shape in [[64, 5], [64, 256], [256, 64], [1000, 64]] {
                let key = "init.\(name).\(shape[0])x\(shape[1])"
                var g = SeededGenerator(seed: 11)
                let ours = initializer.values(shape: shape, using: &g)
                XCTAssertEqual(ours.count, shape[0] * shape[1])
                let keras = f[key]!.values
                if name == "zeros" || name == "ones" {
                    XCTAssertEqual(Set(ours), [name == "ones" ? 1 : 0], key)
                    continue
                }
                assertSameDistribution(ours, keras, bounded: name.hasSuffix("uniform") || name.contains("_normal") && name != "random_normal", key)
                if name == "orthogonal" {
                    // Ours is orthogonal to Float64 rounding (Gram-Schmidt, twice); Keras's to Float32's.
                    XCTAssertLessThanOrEqual(Self.gramError(ours, rows: shape[0], cols: shape[1]), 1e-10, key)
                    XCTAssertLessThanOrEqual(f[key + ".gram_error"]!.values[0], 1e-4, key)
                }
            }
        }
        XCTAssertThrowsError(try Initializer(kerasName: "glorot")) { XCTAssert("\($0)".contains("glorot_uniform"), "\($0)") }
    }

    /// Default-initialised layers (built on each device) against Keras's default-initialised layers, and the two
    /// devices against each other (the values are drawn on the host, so they are identical).
    func testLayerInitialisationMatchesKeras() throws {
        let f = try fixture("initializers")
        var first: [String: [Double]] = [:]
        try onBothDevices { device in
            let tag = "\(device)"
            func values(_ layer: Layer, _ name: String) throws -> [Double] {
                let v = try layer.namedParameters.first { $0.name == name }!.tensor.toDoubles()
                let key = "\(type(of: layer)).\(name)"
                if let seen = first[key] { XCTAssert(v == seen, "\(tag): \(key) differs between the devices") } else { first[key] = v }
                return v
            }
            let lstm = LSTMLayer(units: 64)
            _ = try lstm.build(inputShape: [10, 64], device: device, seed: 5)
            let wih = try values(lstm, "weight_ih_l0"), whh = try values(lstm, "weight_hh_l0")
            let bias = zip(try values(lstm, "bias_ih_l0"), try values(lstm, "bias_hh_l0")).map { $0 + $1 }
            assertSameDistribution(wih, f["layer.lstm.kernel"]!.values, bounded: true, "\(tag): LSTM kernel")
            assertSameDistribution(whh, f["layer.lstm.recurrent_kernel"]!.values, bounded: false, "\(tag): LSTM recurrent kernel")
            // weight_hh [4H, H] is Keras's [H, 4H] transposed: its columns are orthonormal.
            XCTAssertLessThanOrEqual(Self.gramError(whh, rows: 256, cols: 64), 1e-5, "\(tag): LSTM recurrent kernel orthogonality")
            XCTAssertEqual(Array(bias[64..<128]), [Double](repeating: 1, count: 64), "\(tag): unit forget bias")
            XCTAssertEqual(Array(bias[0..<64]) + Array(bias[128...]), [Double](repeating: 0, count: 192), "\(tag): other biases")
            XCTAssertEqual(f["layer.lstm.bias_forget"]!.values[0], 1)

            let gru = GRULayer(units: 32)
            _ = try gru.build(inputShape: [10, 32], device: device, seed: 5)
            assertSameDistribution(try values(gru, "weight_ih_l0"), f["layer.gru.kernel"]!.values, bounded: true, "\(tag): GRU kernel")
            let gwhh = try values(gru, "weight_hh_l0")
            assertSameDistribution(gwhh, f["layer.gru.recurrent_kernel"]!.values, bounded: false, "\(tag): GRU recurrent kernel")
            XCTAssertLessThanOrEqual(Self.gramError(gwhh, rows: 96, cols: 32), 1e-5, "\(tag): GRU recurrent kernel orthogonality")
            XCTAssertEqual(Set(try values(gru, "bias_ih_l0") + (try values(gru, "bias_hh_l0"))), [0], "\(tag): GRU biases")

            let dense = Dense(units: 5)
            _ = try dense.build(inputShape: [64], device: device, seed: 5)
            assertSameDistribution(try values(dense, "weight"), f["layer.dense.kernel"]!.values, bounded: true, "\(tag): Dense kernel")
            XCTAssertEqual(Set(try values(dense, "bias")), [0], "\(tag): Dense bias")

            let embedding = Embedding(inputDim: 1000, outputDim: 64)
            _ = try embedding.build(inputShape: [10], device: device, seed: 5)
            assertSameDistribution(try values(embedding, "weight"), f["layer.embedding.embeddings"]!.values, bounded: true, "\(tag): Embedding")
        }
    }

    /// The initialiser options land in the PyTorch layout (kernel -> weight_ih, recurrent -> weight_hh, bias ->
    /// bias_ih with bias_hh = 0), a seeded draw repeats, the two directions of a Bidirectional get their own draws
    /// (each orthogonal), and a bad initialiser argument is a typed error.
    func testRecurrentInitializationIsSeededAndOptionsApply() throws {
        let a = LSTMLayer(units: 8, kernelInitializer: .zeros, recurrentInitializer: .ones, biasInitializer: .constant(0.5), unitForgetBias: false)
        _ = try a.build(inputShape: [3, 2], device: .cpu, seed: 1)
        let p = Dictionary(uniqueKeysWithValues: try a.namedParameters.map { ($0.name, try $0.tensor.toDoubles()) })
        XCTAssertEqual(Set(p["weight_ih_l0"]!), [0])
        XCTAssertEqual(Set(p["weight_hh_l0"]!), [1])
        XCTAssertEqual(Set(p["bias_ih_l0"]!), [0.5])
        XCTAssertEqual(Set(p["bias_hh_l0"]!), [0])
        let b1 = GRULayer(units: 6), b2 = GRULayer(units: 6)
        _ = try b1.build(inputShape: [3, 2], device: .cpu, seed: 9)
        _ = try b2.build(inputShape: [3, 2], device: .cpu, seed: 9)
        for (x, y) in zip(b1.namedParameters, b2.namedParameters) { XCTAssertEqual(try x.tensor.toDoubles(), try y.tensor.toDoubles(), x.name) }
        let bi = Bidirectional(LSTMLayer(units: 4))
        _ = try bi.build(inputShape: [3, 2], device: .cpu, seed: 2)
        let names = bi.namedParameters.map(\.name)
        let fwd = try bi.namedParameters[names.firstIndex(of: "weight_hh_l0")!].tensor.toDoubles()
        let rev = try bi.namedParameters[names.firstIndex(of: "weight_hh_l0_reverse")!].tensor.toDoubles()
        XCTAssertNotEqual(fwd, rev, "the two directions get their own draws")
        XCTAssertLessThanOrEqual(Self.gramError(rev, rows: 16, cols: 4), 1e-5)
        XCTAssertThrowsError(try LSTMLayer(units: 2, kernelInitializer: .randomUniform(minval: 1, maxval: 0)).build(inputShape: [3, 2], device: .cpu, seed: 0))
    }

    /// Masking(0) -> LSTM with Keras's weights, left- and right-padded batches, return_sequences true and false:
    /// the outputs (Keras's values at padded steps included) and the gradients of sum(output * grad_output)
    /// w.r.t. the input and the weights, as tf.GradientTape computes them.
    func testMaskedLSTMMatchesKeras() throws {
        let f = try fixture("masking")
        let (B, T, F, H) = (3, 5, 2, 4)
        let kernel = f["kernel"]!.values, recurrent = f["recurrent_kernel"]!.values, bias = f["bias"]!.values
        try onBothDevices { device in
            for pad in ["left", "right"] {
                for rs in [0, 1] {
                    let tag = "\(pad) padding, returnSequences \(rs) on \(device)"
                    let p = "\(pad).rs\(rs)"
                    let masking = Masking(maskValue: 0), lstm = LSTMLayer(units: H, returnSequences: rs == 1)
                    _ = try masking.build(inputShape: [T, F], device: device, seed: 0)
                    _ = try lstm.build(inputShape: [T, F], device: device, seed: 0)
                    let core = lstm.core!
                    try core.parameters["weight_ih_l0"]!.assign(transposed(kernel, rows: F, cols: 4 * H))
                    try core.parameters["weight_hh_l0"]!.assign(transposed(recurrent, rows: H, cols: 4 * H))
                    try core.parameters["bias_ih_l0"]!.assign(bias)
                    try core.parameters["bias_hh_l0"]!.assign([Double](repeating: 0, count: 4 * H))
                    let x = try Tensor(shape: [B, T, F], doubles: f["\(pad).x"]!.values, device: device)
                    let masked = try masking.forward(MaskedTensor(x), training: true)
                    XCTAssertEqual(masked.lengths, [5, 3, 2], tag)
                    XCTAssertEqual(masked.starts, pad == "left" ? [0, 2, 3] : nil, tag)
                    let y = try lstm.forward(masked, training: true)
                    // After a sequence's last step Keras repeats its last output; LSTMKit gives 0 (PyTorch, ONNX).
                    var want = f[p + ".output"]!.values
                    if rs == 1 && pad == "right" {
                        for (b, n) in [5, 3, 2].enumerated() { for t in n..<T { for h in 0..<H { want[(b * T + t) * H + h] = 0 } } }
                    }
                    // Float32 on both sides over 5 steps: a few ulps of values of order 1.
                    assertClose(try y.tensor.toDoubles(), want, atol: 2e-6, rtol: 1e-5, "\(tag): output")
                    for b in lstm.parameterBuffers { try device.backend.fill(b.gradients.view, count: b.gradients.count, value: 0) }
                    let dy = try Tensor(shape: y.tensor.shape, doubles: f[p + ".grad_output"]!.values, device: device)
                    let dx = try masking.backward(try lstm.backward(dy)!)!
                    assertClose(try dx.toDoubles(), f[p + ".grad.x"]!.values, atol: 1e-5, rtol: 1e-4, "\(tag): grad x")
                    let grads = Dictionary(uniqueKeysWithValues: try core.parameterNames.map {
                        ($0, try (core as! LSTM).gradients[$0]!.toDoubles())
                    })
                    assertClose(transposed(grads["weight_ih_l0"]!, rows: 4 * H, cols: F), f[p + ".grad.kernel"]!.values,
                                atol: 1e-5, rtol: 1e-4, "\(tag): grad kernel")
                    assertClose(transposed(grads["weight_hh_l0"]!, rows: 4 * H, cols: H), f[p + ".grad.recurrent_kernel"]!.values,
                                atol: 1e-5, rtol: 1e-4, "\(tag): grad recurrent kernel")
                    assertClose(grads["bias_ih_l0"]!, f[p + ".grad.bias"]!.values, atol: 1e-5, rtol: 1e-4, "\(tag): grad bias")
                }
            }
        }
    }

    /// Dense(1) with weight 1 and bias 0 on x [41, 1] is the activation itself: y and d sum(y * g)/dx against Keras.
    func testDenseActivationsMatchKeras() throws {
        let f = try fixture("activations")
        let x = f["x"]!.values, g = f["grad_weights"]!.values
        try onBothDevices { device in
            for act in [Activation.elu, .selu, .softplus, .gelu] {
                let dense = Dense(units: 1, activation: act, kernelInitializer: .ones)
                _ = try dense.build(inputShape: [1], device: device, seed: 0)
                let y = try dense.forward(MaskedTensor(try Tensor(shape: [41, 1], doubles: x, device: device)), training: true)
                // Float32 kernels on values up to 4: ulps of the result; exp/erf in OpenCL are within a few ulps.
                assertClose(try y.tensor.toDoubles(), f["\(act.rawValue).y"]!.values, atol: 1e-6, rtol: 1e-5, "\(act) on \(device): y")
                let dx = try dense.backward(try Tensor(shape: [41, 1], doubles: g, device: device))!
                assertClose(try dx.toDoubles(), f["\(act.rawValue).grad"]!.values, atol: 1e-6, rtol: 1e-5, "\(act) on \(device): dx")
            }
        }
    }
}
