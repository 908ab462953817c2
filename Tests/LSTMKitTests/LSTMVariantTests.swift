import Foundation
import XCTest
@testable import LSTMKit

/// The LSTM variants (peepholes, layer norm, projection, recurrent dropout, cell clipping and all of them at
/// once): finite differences on the CPU in Float64, OpenCL-vs-CPU parity in Float32, and bad input.
final class LSTMVariantTests: XCTestCase {
    /// A layer configuration under test.
    struct Variant {
        var name: String
        var projSize = 0, peephole = false, layerNorm = false, cellClip: Double? = nil, recurrentDropout = 0.0
        func make(inputSize: Int, hidden: Int, layers: Int, bidirectional: Bool, batchFirst: Bool = false,
                  device: Device, seed: UInt64) throws -> LSTM {
            try LSTM(inputSize: inputSize, hiddenSize: hidden, numLayers: layers, batchFirst: batchFirst, bidirectional: bidirectional,
                     projSize: projSize, peephole: peephole, layerNorm: layerNorm, cellClip: cellClip,
                     recurrentDropout: recurrentDropout, device: device, seed: seed)
        }
    }

    static let variants: [Variant] = [
        Variant(name: "peephole", peephole: true),
        Variant(name: "layer norm", layerNorm: true),
        Variant(name: "projection", projSize: 2),
        Variant(name: "recurrent dropout", recurrentDropout: 0.4),
        Variant(name: "cell clip", cellClip: 0.3),
        Variant(name: "all at once", projSize: 3, peephole: true, layerNorm: true, cellClip: 0.5, recurrentDropout: 0.3),
    ]

    /// Random non-zero layer-norm parameters and peepholes, so their gradients are exercised away from the
    /// 1/0 initialisation (which hides a swapped weight/bias).
    func perturbVariantParameters(_ lstm: LSTM, seed: UInt64) throws {
        for (n, name) in lstm.parameterNames.enumerated() where name.hasPrefix("ln_") || name.hasPrefix("peephole") {
            let t = lstm.parameters[name]!
            let base: Double = name.contains("_weight") ? 1 : 0
            try t.assign(randomValues(t.count, seed: seed &+ UInt64(n), scale: 0.5).map { base + $0 })
        }
    }

    // MARK: Finite differences (CPU, Float64)

    /// Every parameter, input and initial-state element against central differences. Loss = sum(out*gOut) +
    /// sum(h_n*gH) + sum(c_n*gC). With eps = 1e-6 in Float64 the truncation error is O(eps^2) and the rounding
    /// error about |loss| * 1e-16 / eps, ~1e-8 for these losses; layer norm's gradients reach |g| ~ 30, so the bound
    /// is 1e-7 + 1e-7 * |g|. A wrong term shows up as an error of O(1e-2) or more.
    func finiteDifferences(_ v: Variant, inputSize I: Int, hidden H: Int, layers L: Int, batch B: Int, steps T: Int,
                           bidirectional: Bool, lengths: [Int]?, seed: UInt64) throws {
        let device = Device.cpuFloat64
        let lstm = try v.make(inputSize: I, hidden: H, layers: L, bidirectional: bidirectional, device: device, seed: seed)
        try perturbVariantParameters(lstm, seed: seed + 100)
        let D = lstm.numDirections, R = lstm.outputSize
        final class Inputs { var values: [String: [Double]] = [:] }
        let inputs = Inputs()
        inputs.values = ["x": randomValues(T * B * I, seed: seed + 1),
                         "h0": randomValues(L * D * B * R, seed: seed + 2, scale: 0.5),
                         "c0": randomValues(L * D * B * H, seed: seed + 3, scale: 0.5)]
        let gOut = randomValues(T * B * D * R, seed: seed + 4)
        let gH = randomValues(L * D * B * R, seed: seed + 5), gC = randomValues(L * D * B * H, seed: seed + 6)
        func loss() throws -> Double {
            lstm.resetDropoutGenerator(seed: seed)  // the same recurrent-dropout masks in every evaluation
            let vals = inputs.values
            let (y, (hn, cn)) = try lstm.forward(Tensor(shape: [T, B, I], doubles: vals["x"]!, device: device), lengths: lengths,
                                                 initialState: (Tensor(shape: [L * D, B, R], doubles: vals["h0"]!, device: device),
                                                                Tensor(shape: [L * D, B, H], doubles: vals["c0"]!, device: device)))
            return zip(try y.toDoubles(), gOut).map(*).reduce(0, +) + zip(try hn.toDoubles(), gH).map(*).reduce(0, +)
                + zip(try cn.toDoubles(), gC).map(*).reduce(0, +)
        }
        lstm.resetDropoutGenerator(seed: seed)
        let run = try runLSTM(lstm, input: inputs.values["x"]!, inputShape: [T, B, I], lengths: lengths,
                              h0: inputs.values["h0"]!, c0: inputs.values["c0"]!, gOut: gOut, gH: gH, gC: gC)
        let eps = 1e-6
        func numeric(_ key: String) throws -> [Double] {
            try inputs.values[key]!.indices.map { i in
                let x = inputs.values[key]![i]
                inputs.values[key]![i] = x + eps; let plus = try loss()
                inputs.values[key]![i] = x - eps; let minus = try loss()
                inputs.values[key]![i] = x
                return (plus - minus) / (2 * eps)
            }
        }
        let tag = "\(v.name) L\(L) D\(D) lengths \(lengths ?? [])"
        assertClose(run.dInput, try numeric("x"), atol: 1e-7, rtol: 1e-7, "\(tag): d input")
        assertClose(run.dh0, try numeric("h0"), atol: 1e-7, rtol: 1e-7, "\(tag): d h0")
        assertClose(run.dc0, try numeric("c0"), atol: 1e-7, rtol: 1e-7, "\(tag): d c0")
        var worst = 0.0
        for name in lstm.parameterNames {
            let p = lstm.parameters[name]!
            var values = try p.toDoubles()
            var numericGrad: [Double] = []
            for i in values.indices {
                let x = values[i]
                values[i] = x + eps; try p.assign(values); let plus = try loss()
                values[i] = x - eps; try p.assign(values); let minus = try loss()
                values[i] = x; try p.assign(values)
                numericGrad.append((plus - minus) / (2 * eps))
            }
            assertClose(run.grads[name]!, numericGrad, atol: 1e-7, rtol: 1e-7, "\(tag): d \(name)")
            XCTAssertGreaterThan(maxAbs(numericGrad), 0, "\(tag): \(name) has no effect on the loss")
            worst = max(worst, maxAbsDiff(run.grads[name]!, numericGrad))
        }
        print("finite differences \(tag): max parameter-gradient error \(worst)")
    }

    func testPeepholeFiniteDifferences() throws {
        try finiteDifferences(Self.variants[0], inputSize: 3, hidden: 4, layers: 1, batch: 2, steps: 4, bidirectional: false,
                              lengths: nil, seed: 31)
        try finiteDifferences(Self.variants[0], inputSize: 2, hidden: 3, layers: 2, batch: 3, steps: 4, bidirectional: true,
                              lengths: [4, 2, 3], seed: 32)
    }

    func testLayerNormFiniteDifferences() throws {
        try finiteDifferences(Self.variants[1], inputSize: 3, hidden: 4, layers: 1, batch: 2, steps: 4, bidirectional: false,
                              lengths: nil, seed: 33)
        try finiteDifferences(Self.variants[1], inputSize: 2, hidden: 3, layers: 2, batch: 3, steps: 4, bidirectional: true,
                              lengths: [4, 2, 3], seed: 34)
    }

    func testProjectionFiniteDifferences() throws {
        try finiteDifferences(Self.variants[2], inputSize: 3, hidden: 4, layers: 2, batch: 3, steps: 4, bidirectional: true,
                              lengths: [4, 1, 3], seed: 35)
    }

    func testRecurrentDropoutFiniteDifferences() throws {
        try finiteDifferences(Self.variants[3], inputSize: 3, hidden: 4, layers: 2, batch: 3, steps: 4, bidirectional: true,
                              lengths: [4, 2, 3], seed: 36)
    }

    func testAllVariantsAtOnceFiniteDifferences() throws {
        try finiteDifferences(Self.variants[5], inputSize: 3, hidden: 5, layers: 2, batch: 3, steps: 4, bidirectional: true,
                              lengths: [4, 2, 3], seed: 37)
    }

    // MARK: OpenCL vs CPU

    /// Every variant on OpenCL against the CPU path, 2-layer bidirectional, variable lengths, H = 5 (4H < 64:
    /// a smaller layer-norm work-group), 37 (not a multiple of the vector width, so the kernels' tails run) and 70
    /// (more units than LN_WG work-items).
    /// Both Float32 paths are measured against the CPU in Float64 (checked by finite differences above). A tensor
    /// passes when OpenCL's error is within the plain LSTM's parity bounds (forward 2e-5 absolute, gradients 1e-4
    /// of the tensor's largest magnitude) or within 10x the CPU Float32 path's own error: layer norm divides by the
    /// standard deviation of h . W_hh^T, and with a 3-wide projection that is small, so float32 rounding alone
    /// reaches 5e-5 on c_n there, on both devices alike; with clipping on top, a c_t that lands on the clip value
    /// on one device and not the other moves a gradient by more (measured: OpenCL 6x the CPU's error on one bias
    /// at H 5, both ~1e-4 of the largest gradient). A wrong kernel errs by orders of magnitude more.
    func testOpenCLMatchesCPUForEveryVariant() throws {
        let cl = try openCLDeviceOrSkip()
        for v in Self.variants {
            for H in [5, 37, 70] {
                let (I, L, B, T) = (6, 2, 4, 10), lengths = [10, 7, 1, 4]
                let reference = try v.make(inputSize: I, hidden: H, layers: L, bidirectional: true, batchFirst: true,
                                           device: .cpuFloat64, seed: 41)
                try perturbVariantParameters(reference, seed: 42)
                let D = 2, R = reference.outputSize
                let x = randomValues(B * T * I, seed: 43)
                let h0 = randomValues(L * D * B * R, seed: 44, scale: 0.5), c0 = randomValues(L * D * B * H, seed: 45, scale: 0.5)
                let gOut = randomValues(B * T * D * R, seed: 46)
                let gH = randomValues(L * D * B * R, seed: 47), gC = randomValues(L * D * B * H, seed: 48)
                let runs = try [Device.cpuFloat64, .cpu, cl].map { device in
                    let lstm = try v.make(inputSize: I, hidden: H, layers: L, bidirectional: true, batchFirst: true, device: device, seed: 0)
                    try lstm.flatParameters.assign(try reference.flatParameters.toDoubles())
                    // Recurrent-dropout masks come from the same counter-based hash on every device.
                    lstm.resetDropoutGenerator(seed: 7)
                    return try runLSTM(lstm, input: x, inputShape: [B, T, I], lengths: lengths, h0: h0, c0: c0, gOut: gOut, gH: gH, gC: gC)
                }
                let (exact, cpu, ocl) = (runs[0], runs[1], runs[2])
                let tag = "\(v.name) H\(H)"
                var forwardError = 0.0, gradError = 0.0, cpuForwardError = 0.0, cpuGradError = 0.0
                func check(_ got: [Double], _ cpuGot: [Double], _ want: [Double], bound: Double, scale: Double, _ what: String) -> (Double, Double) {
                    let err = maxAbsDiff(got, want), cpuErr = maxAbsDiff(cpuGot, want)
                    assertClose(got, want, atol: max(bound, 10 * cpuErr), "\(tag): \(what) (cpu float32 error \(cpuErr))")
                    return (err / scale, cpuErr / scale)
                }
                for (got, c, want, what) in [(ocl.output, cpu.output, exact.output, "output"), (ocl.hn, cpu.hn, exact.hn, "h_n"),
                                             (ocl.cn, cpu.cn, exact.cn, "c_n")] {
                    let (e, ce) = check(got, c, want, bound: 2e-5, scale: 1, what)
                    forwardError = max(forwardError, e); cpuForwardError = max(cpuForwardError, ce)
                }
                var pairs = [(ocl.dInput, cpu.dInput, exact.dInput, "d input"), (ocl.dh0, cpu.dh0, exact.dh0, "d h0"),
                             (ocl.dc0, cpu.dc0, exact.dc0, "d c0")]
                pairs += reference.parameterNames.map { (ocl.grads[$0]!, cpu.grads[$0]!, exact.grads[$0]!, "d " + $0) }
                for (got, c, want, what) in pairs {
                    let scale = max(maxAbs(want), 1e-30)
                    let (e, ce) = check(got, c, want, bound: 1e-4 * scale, scale: scale, what)
                    gradError = max(gradError, e); cpuGradError = max(cpuGradError, ce)
                }
                print("parity \(tag) vs float64: opencl forward \(forwardError), gradients \(gradError) (relative); "
                      + "cpu float32 forward \(cpuForwardError), gradients \(cpuGradError)")
            }
        }
    }

    // MARK: Behaviour

    /// Recurrent dropout is training-only, changes the output in training, and draws one mask per sequence:
    /// with p > 0 a training forward differs from an eval forward, and eval equals a p = 0 layer.
    func testRecurrentDropoutIsTrainingOnly() throws {
        let on = try LSTM(inputSize: 3, hiddenSize: 8, recurrentDropout: 0.5, seed: 5)
        let off = try LSTM(inputSize: 3, hiddenSize: 8, seed: 5)
        let x = try Tensor(shape: [6, 2, 3], doubles: randomValues(36, seed: 6), device: .cpu)
        let train = try on.forward(x).output.toDoubles()
        on.training = false
        let eval = try on.forward(x).output.toDoubles()
        let plain = try off.forward(x).output.toDoubles()
        XCTAssertEqual(eval, plain)
        XCTAssertGreaterThan(maxAbsDiff(train, eval), 1e-3)
        // Step 0 sees h0 = 0, so the first step's output does not depend on the mask.
        assertClose(Array(train[0..<16]), Array(eval[0..<16]), atol: 0, "step 0")
    }

    /// The cell equations written out once more, independently, in Double (one layer, one direction, full
    /// lengths): peepholes, layer norm (Ba et al.: LN of W_ih x and of W_hh h over all 4H, LN of c_t over H) and
    /// clipping. Returns the outputs [T, B, H] and c_T [B, H].
    func referenceForward(_ lstm: LSTM, x: [Double], steps T: Int, batch B: Int) throws -> (y: [Double], c: [Double]) {
        let I = lstm.inputSize, H = lstm.hiddenSize, G = 4 * H
        func p(_ n: String) throws -> [Double] { try lstm.parameters[n + "_l0"].map { try $0.toDoubles() } ?? [] }
        let wih = try p("weight_ih"), whh = try p("weight_hh"), bih = try p("bias_ih"), bhh = try p("bias_hh")
        let pi = try p("peephole_i"), pf = try p("peephole_f"), po = try p("peephole_o")
        func ln(_ v: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            let mean = v.reduce(0, +) / Double(v.count)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)
            return v.indices.map { w[$0] * (v[$0] - mean) / (variance + 1e-5).squareRoot() + b[$0] }
        }
        func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        var h = [[Double]](repeating: [Double](repeating: 0, count: H), count: B), c = h, y: [Double] = []
        for t in 0..<T {
            for b in 0..<B {
                var wx = (0..<G).map { k in (0..<I).map { wih[k * I + $0] * x[(t * B + b) * I + $0] }.reduce(0, +) }
                var wh = (0..<G).map { k in (0..<H).map { whh[k * H + $0] * h[b][$0] }.reduce(0, +) }
                if lstm.layerNorm {
                    wx = ln(wx, try p("ln_ih_weight"), try p("ln_ih_bias"))
                    wh = ln(wh, try p("ln_hh_weight"), try p("ln_hh_bias"))
                }
                let a = (0..<G).map { wx[$0] + wh[$0] + (bih.isEmpty ? 0 : bih[$0] + bhh[$0]) }
                var cNew = [Double](repeating: 0, count: H), o = cNew
                for j in 0..<H {
                    let i = sigmoid(a[j] + (pi.isEmpty ? 0 : pi[j] * c[b][j]))
                    let f = sigmoid(a[H + j] + (pf.isEmpty ? 0 : pf[j] * c[b][j]))
                    var cj = f * c[b][j] + i * tanh(a[2 * H + j])
                    if let clip = lstm.cellClip { cj = min(max(cj, -clip), clip) }
                    cNew[j] = cj
                    o[j] = sigmoid(a[3 * H + j] + (po.isEmpty ? 0 : po[j] * cj))
                }
                let cOut = lstm.layerNorm ? ln(cNew, try p("ln_c_weight"), try p("ln_c_bias")) : cNew
                c[b] = cNew
                h[b] = (0..<H).map { o[$0] * tanh(cOut[$0]) }
                y += h[b]
            }
        }
        return (y, c.flatMap { $0 })
    }

    /// The forward pass of peephole, layer-norm and clipped layers equals the reference equations: to 1e-12 in
    /// Float64 on the CPU, and within the parity bound on OpenCL (float32; exp-based activations, ~1e-7 each).
    func testForwardMatchesTheEquations() throws {
        let devices = [Device.cpuFloat64] + ((try? openCLDeviceOrSkip()).map { [$0] } ?? [])
        for v in [Self.variants[0], Self.variants[1], Self.variants[4],
                  Variant(name: "peephole + layer norm + clip", peephole: true, layerNorm: true, cellClip: 0.4)] {
            for device in devices {
                let (I, H, B, T) = (3, 5, 2, 6)
                let lstm = try v.make(inputSize: I, hidden: H, layers: 1, bidirectional: false, device: device, seed: 51)
                try perturbVariantParameters(lstm, seed: 52)
                let x = randomValues(T * B * I, seed: 53, scale: 2)
                let (y, (_, cn)) = try lstm.forward(try Tensor(shape: [T, B, I], doubles: x, device: device))
                let want = try referenceForward(lstm, x: x, steps: T, batch: B)
                let atol = device == .cpuFloat64 ? 1e-12 : 2e-6
                assertClose(try y.toDoubles(), want.y, atol: atol, "\(v.name) on \(device): output")
                assertClose(try cn.toDoubles(), want.c, atol: atol, "\(v.name) on \(device): c_n")
            }
        }
    }

    // MARK: Bad input

    func testBadVariantArgumentsAreTypedErrors() throws {
        func expectInvalid(_ name: String, _ make: () throws -> LSTM) {
            XCTAssertThrowsError(try make()) { error in
                guard case let LSTMKitError.invalidArgument(n, _, _) = error else { return XCTFail("\(name): \(error)") }
                XCTAssertEqual(n, name)
            }
        }
        expectInvalid("projSize") { try LSTM(inputSize: 3, hiddenSize: 4, projSize: 4) }
        expectInvalid("projSize") { try LSTM(inputSize: 3, hiddenSize: 4, projSize: 9) }
        expectInvalid("projSize") { try LSTM(inputSize: 3, hiddenSize: 4, projSize: -1) }
        expectInvalid("cellClip") { try LSTM(inputSize: 3, hiddenSize: 4, cellClip: 0) }
        expectInvalid("cellClip") { try LSTM(inputSize: 3, hiddenSize: 4, cellClip: -1) }
        expectInvalid("recurrentDropout") { try LSTM(inputSize: 3, hiddenSize: 4, recurrentDropout: 1) }
        expectInvalid("recurrentDropout") { try LSTM(inputSize: 3, hiddenSize: 4, recurrentDropout: -0.1) }
        expectInvalid("recurrentDropout") { try LSTM(inputSize: 3, hiddenSize: 4, recurrentDropout: .nan) }
        // A projection's h0 has P columns; the full H is a shape error naming h0.
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, projSize: 2)
        let x = try Tensor(shape: [2, 1, 3], doubles: randomValues(6, seed: 1), device: .cpu)
        let wrong = try Tensor(shape: [1, 1, 4], doubles: [0, 0, 0, 0], device: .cpu)
        XCTAssertThrowsError(try lstm.forward(x, initialState: (wrong, wrong))) { error in
            guard case let LSTMKitError.shapeMismatch(what, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(what, "h0")
        }
    }

    /// A state dict made for another variant is rejected whole, with an error naming the tensor and the variant.
    func testStateDictOfAnotherVariantIsRejected() throws {
        let shapes: [(String, LSTM)] = [
            ("plain", try LSTM(inputSize: 3, hiddenSize: 4, seed: 1)),
            ("peephole", try LSTM(inputSize: 3, hiddenSize: 4, peephole: true, seed: 1)),
            ("layer norm", try LSTM(inputSize: 3, hiddenSize: 4, layerNorm: true, seed: 1)),
            ("projection 2", try LSTM(inputSize: 3, hiddenSize: 4, projSize: 2, seed: 1)),
            ("projection 3", try LSTM(inputSize: 3, hiddenSize: 4, projSize: 3, seed: 1)),
        ]
        for (fromName, from) in shapes {
            let entries = Dictionary(uniqueKeysWithValues: try from.stateDict().map {
                ($0.name, SafeTensors.Entry(dtype: "F32", shape: $0.shape, values: $0.values.map(Double.init)))
            })
            for (toName, to) in shapes {
                let before = try to.flatParameters.toArray()
                if fromName == toName {
                    XCTAssertNoThrow(try to.loadStateDict(entries))
                    continue
                }
                XCTAssertThrowsError(try to.loadStateDict(entries), "\(fromName) into \(toName)") { error in
                    guard case let LSTMKitError.stateDict(tensor, reason) = error else { return XCTFail("\(error)") }
                    XCTAssertFalse(tensor.isEmpty)
                    XCTAssertTrue(reason.contains("variant") || reason.contains("shape"), "\(fromName) into \(toName): \(reason)")
                }
                XCTAssertEqual(try to.flatParameters.toArray(), before, "\(fromName) into \(toName) changed parameters")
            }
        }
    }
}
