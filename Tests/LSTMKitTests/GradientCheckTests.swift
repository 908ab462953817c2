import XCTest
@testable import LSTMKit

/// Finite-difference gradient checks on the CPU path in Float64, for every parameter element, every input
/// element and the initial states. Loss = sum(out*gOut) + sum(h_n*gH) + sum(c_n*gC); central differences
/// with eps = 1e-6 have truncation error O(eps^2) ~ 1e-12 and rounding error ~ 1e-16/eps = 1e-10, so an
/// analytic gradient within 1e-7 (absolute, values are O(1)) is right and a wrong term would show up as O(1e-2).
final class GradientCheckTests: XCTestCase {
    func gradientCheck(inputSize I: Int, hidden H: Int, layers L: Int, batch B: Int, steps T: Int,
                       bidirectional: Bool = false, batchFirst: Bool = false, lengths: [Int]? = nil,
                       dropout: Double = 0, cellClip: Double? = nil, seed: UInt64) throws {
        let device = Device.cpuFloat64
        let lstm = try LSTM(inputSize: I, hiddenSize: H, numLayers: L, batchFirst: batchFirst, dropout: dropout,
                            bidirectional: bidirectional, cellClip: cellClip, device: device, seed: seed)
        let D = lstm.numDirections
        let inputShape = batchFirst ? [B, T, I] : [T, B, I]
        /// The inputs being perturbed, in a reference box so `loss()` reads the current values.
        final class Inputs { var values: [String: [Double]] = [:] }
        let inputs = Inputs()
        inputs.values = ["x": randomValues(B * T * I, seed: seed + 1),
                         "h0": randomValues(L * D * B * H, seed: seed + 2, scale: 0.5),
                         "c0": randomValues(L * D * B * H, seed: seed + 3, scale: 0.5)]
        let gOut = randomValues(B * T * D * H, seed: seed + 4)
        let gH = randomValues(L * D * B * H, seed: seed + 5)
        let gC = randomValues(L * D * B * H, seed: seed + 6)

        func loss() throws -> Double {
            lstm.resetDropoutGenerator(seed: seed)  // the same dropout mask in every evaluation
            let st = [L * D, B, H]
            let v = inputs.values
            let (y, (hn, cn)) = try lstm.forward(Tensor(shape: inputShape, doubles: v["x"]!, device: device), lengths: lengths,
                                                 initialState: (Tensor(shape: st, doubles: v["h0"]!, device: device),
                                                                Tensor(shape: st, doubles: v["c0"]!, device: device)))
            return zip(try y.toDoubles(), gOut).map(*).reduce(0, +) + zip(try hn.toDoubles(), gH).map(*).reduce(0, +)
                + zip(try cn.toDoubles(), gC).map(*).reduce(0, +)
        }
        lstm.resetDropoutGenerator(seed: seed)
        let run = try runLSTM(lstm, input: inputs.values["x"]!, inputShape: inputShape, lengths: lengths,
                              h0: inputs.values["h0"]!, c0: inputs.values["c0"]!, gOut: gOut, gH: gH, gC: gC)
        let eps = 1e-6
        func numeric(_ key: String) throws -> [Double] {
            try inputs.values[key]!.indices.map { i in
                let v = inputs.values[key]![i]
                inputs.values[key]![i] = v + eps; let plus = try loss()
                inputs.values[key]![i] = v - eps; let minus = try loss()
                inputs.values[key]![i] = v
                return (plus - minus) / (2 * eps)
            }
        }
        let tag = "L\(L) D\(D) lengths \(lengths ?? []) dropout \(dropout)"
        assertClose(run.dInput, try numeric("x"), atol: 1e-7, "\(tag): d input")
        assertClose(run.dh0, try numeric("h0"), atol: 1e-7, "\(tag): d h0")
        assertClose(run.dc0, try numeric("c0"), atol: 1e-7, "\(tag): d c0")
        for name in lstm.parameterNames {
            let p = lstm.parameters[name]!
            var values = try p.toDoubles()
            var numericGrad: [Double] = []
            for i in values.indices {
                let v = values[i]
                values[i] = v + eps; try p.assign(values); let plus = try loss()
                values[i] = v - eps; try p.assign(values); let minus = try loss()
                values[i] = v; try p.assign(values)
                numericGrad.append((plus - minus) / (2 * eps))
            }
            assertClose(run.grads[name]!, numericGrad, atol: 1e-7, "\(tag): d \(name)")
        }
    }

    func testOneLayer() throws {
        try gradientCheck(inputSize: 3, hidden: 4, layers: 1, batch: 2, steps: 4, seed: 11)
    }

    func testTwoLayers() throws {
        try gradientCheck(inputSize: 3, hidden: 3, layers: 2, batch: 2, steps: 3, seed: 12)
    }

    func testBidirectional() throws {
        try gradientCheck(inputSize: 2, hidden: 3, layers: 1, batch: 3, steps: 4, bidirectional: true, batchFirst: true, seed: 13)
    }

    func testVariableLengthsBidirectionalTwoLayers() throws {
        try gradientCheck(inputSize: 2, hidden: 3, layers: 2, batch: 3, steps: 5, bidirectional: true,
                          lengths: [5, 2, 1], seed: 14)
    }

    /// Cell clipping at 0.3 clips a good share of the cell states here (checked below), so the zeroed gradient
    /// through clipped states is exercised; an element whose c lies within eps of the bound could flip, but none does.
    func testCellClipping() throws {
        try gradientCheck(inputSize: 3, hidden: 4, layers: 2, batch: 3, steps: 5, bidirectional: true, lengths: [5, 3, 1],
                          cellClip: 0.3, seed: 16)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, cellClip: 0.3, device: .cpuFloat64, seed: 16)
        let x = try Tensor(shape: [5, 3, 3], doubles: randomValues(45, seed: 17, scale: 3), device: .cpuFloat64)
        let c = try lstm.forward(x).state.c.toDoubles()
        XCTAssert(c.allSatisfy { abs($0) <= 0.3 + 1e-12 }, "every |c| within the clip")
        XCTAssertGreaterThan(c.filter { abs(abs($0) - 0.3) < 1e-12 }.count, 0, "some cell states are clipped")
    }

    func testDropoutBetweenLayers() throws {
        try gradientCheck(inputSize: 3, hidden: 3, layers: 2, batch: 2, steps: 3, dropout: 0.4, seed: 15)
    }
}
