import Foundation
import XCTest
@testable import LSTMKit

/// GRU against PyTorch nn.GRU (fixtures from make_fixtures.py, same bounds as the LSTM golden tests: forward
/// within 2e-6 absolute, gradients within 1e-5 of the largest magnitude), finite differences in Float64,
/// and OpenCL against the CPU (tolerances as in OpenCLParityTests).
final class GRUTests: XCTestCase {
    /// Forward + backward with loss sum(out*gOut) + sum(h_n*gH).
    func run(_ gru: GRU, x: [Double], shape: [Int], lengths: [Int]?, h0: [Double]?, gOut: [Double], gH: [Double])
        throws -> (out: [Double], hn: [Double], dx: [Double], dh0: [Double], grads: [String: [Double]]) {
        let d = gru.device
        let B = gru.batchFirst ? shape[0] : shape[1]
        let st = [gru.numLayers * gru.numDirections, B, gru.hiddenSize]
        let (y, hn) = try gru.forward(Tensor(shape: shape, doubles: x, device: d), lengths: lengths,
                                      initialState: try h0.map { try Tensor(shape: st, doubles: $0, device: d) })
        let g = try gru.backward(gradOutput: Tensor(shape: y.shape, doubles: gOut, device: d), gradH: Tensor(shape: st, doubles: gH, device: d))
        var grads: [String: [Double]] = [:]
        for n in gru.parameterNames { grads[n] = try gru.gradients[n]!.toDoubles() }
        return (try y.toDoubles(), try hn.toDoubles(), try g.input.toDoubles(), try g.h0.toDoubles(), grads)
    }

    func golden(_ name: String, on device: Device) throws {
        let f = try SafeTensors.read(fixturesDirectory.appendingPathComponent("gru_\(name).safetensors"))
        let c = f["config"]!.values.map { Int($0) }
        let gru = try GRU(inputSize: c[0], hiddenSize: c[1], numLayers: c[2], bias: c[3] == 1, batchFirst: c[4] == 1,
                          bidirectional: c[5] == 1, device: device)
        try gru.loadStateDict(f.filter { gru.parameters[$0.key] != nil })
        let r = try run(gru, x: f["input"]!.values, shape: f["input"]!.shape, lengths: f["lengths"]!.values.map { Int($0) },
                        h0: f["h0"]?.values, gOut: f["grad_output"]!.values, gH: f["grad_h_n"]!.values)
        let tag = "gru \(name) on \(device)"
        assertClose(r.out, f["output"]!.values, atol: 2e-6, "\(tag): output")
        assertClose(r.hn, f["h_n"]!.values, atol: 2e-6, "\(tag): h_n")
        var pairs = [(r.dx, "grad.input")] + gru.parameterNames.map { (r.grads[$0]!, "grad." + $0) }
        if f["h0"] != nil { pairs.append((r.dh0, "grad.h0")) }
        var worst = 0.0
        for (got, key) in pairs {
            let e = f[key]!.values
            assertClose(got, e, atol: 1e-5 * maxAbs(e), "\(tag): \(key)")
            worst = max(worst, maxAbsDiff(got, e) / maxAbs(e))
        }
        print("golden \(tag): max |forward error| \(max(maxAbsDiff(r.out, f["output"]!.values), maxAbsDiff(r.hn, f["h_n"]!.values))), max gradient error / max|grad| \(worst)")
    }

    func testAgainstPyTorchOnCPU() throws { for n in ["one_layer", "variable_lengths", "no_bias"] { try golden(n, on: .cpu) } }
    func testAgainstPyTorchOnOpenCL() throws {
        let d = try openCLDeviceOrSkip()
        for n in ["one_layer", "variable_lengths", "no_bias"] { try golden(n, on: d) }
    }

    func testFiniteDifferencesInFloat64() throws {
        let (I, H, L, B, T) = (2, 3, 2, 3, 4)
        let gru = try GRU(inputSize: I, hiddenSize: H, numLayers: L, batchFirst: true, dropout: 0.3, bidirectional: true, device: .cpuFloat64, seed: 3)
        let D = 2, lengths = [4, 1, 3]
        final class Box { var x: [Double] = []; var h0: [Double] = [] }
        let v = Box()
        v.x = randomValues(B * T * I, seed: 1); v.h0 = randomValues(L * D * B * H, seed: 2, scale: 0.5)
        let gOut = randomValues(B * T * D * H, seed: 3), gH = randomValues(L * D * B * H, seed: 4)
        func loss() throws -> Double {
            gru.resetDropoutGenerator(seed: 9)
            let (y, hn) = try gru.forward(Tensor(shape: [B, T, I], doubles: v.x, device: .cpuFloat64), lengths: lengths,
                                          initialState: Tensor(shape: [L * D, B, H], doubles: v.h0, device: .cpuFloat64))
            return zip(try y.toDoubles(), gOut).map(*).reduce(0, +) + zip(try hn.toDoubles(), gH).map(*).reduce(0, +)
        }
        gru.resetDropoutGenerator(seed: 9)
        let r = try run(gru, x: v.x, shape: [B, T, I], lengths: lengths, h0: v.h0, gOut: gOut, gH: gH)
        let eps = 1e-6
        func numeric(_ get: () -> [Double], _ set: ([Double]) throws -> Void) throws -> [Double] {
            var values = get()
            return try values.indices.map { i in
                let old = values[i]
                values[i] = old + eps; try set(values); let plus = try loss()
                values[i] = old - eps; try set(values); let minus = try loss()
                values[i] = old; try set(values)
                return (plus - minus) / (2 * eps)
            }
        }
        assertClose(r.dx, try numeric({ v.x }, { v.x = $0 }), atol: 1e-7, "gru d input")
        assertClose(r.dh0, try numeric({ v.h0 }, { v.h0 = $0 }), atol: 1e-7, "gru d h0")
        for name in gru.parameterNames {
            let p = gru.parameters[name]!
            let start = try p.toDoubles()
            assertClose(r.grads[name]!, try numeric({ start }, { try p.assign($0) }), atol: 1e-7, "gru d \(name)")
        }
    }

    func testOpenCLMatchesCPUOnOddShapes() throws {
        let cl = try openCLDeviceOrSkip()
        for (n, (I, H, L, B, T, bidir, lengths)) in [(7, 1, 1, 1, 1, false, [Int]?.none), (9, 37, 2, 3, 8, true, [8, 3, 1]), (16, 66, 1, 5, 12, false, nil)].enumerated() {
            let D = bidir ? 2 : 1, seed = UInt64(40 + n)
            let x = randomValues(T * B * I, seed: seed), h0 = randomValues(L * D * B * H, seed: seed + 1)
            let gOut = randomValues(T * B * D * H, seed: seed + 2), gH = randomValues(L * D * B * H, seed: seed + 3)
            var results: [(out: [Double], hn: [Double], dx: [Double], dh0: [Double], grads: [String: [Double]])] = []
            var names: [String] = []
            for device in [Device.cpu, cl] {
                let gru = try GRU(inputSize: I, hiddenSize: H, numLayers: L, bidirectional: bidir, device: device, seed: seed)
                names = gru.parameterNames
                results.append(try run(gru, x: x, shape: [T, B, I], lengths: lengths, h0: h0, gOut: gOut, gH: gH))
            }
            let tag = "gru parity case \(n)"
            assertClose(results[1].out, results[0].out, atol: 1e-5, "\(tag) output")
            assertClose(results[1].hn, results[0].hn, atol: 1e-5, "\(tag) h_n")
            for (a, b, w) in [(results[1].dx, results[0].dx, "dx"), (results[1].dh0, results[0].dh0, "dh0")] + names.map({ (results[1].grads[$0]!, results[0].grads[$0]!, $0) }) {
                assertClose(a, b, atol: 1e-4 * maxAbs(b), "\(tag) \(w)")
            }
        }
    }

    func testStateDictOfAnotherVariantIsRejected() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4)
        let gru = try GRU(inputSize: 3, hiddenSize: 4)
        var entries: [String: SafeTensors.Entry] = [:]
        for (name, shape, values) in try gru.stateDict() { entries[name] = SafeTensors.Entry(shape: shape, values: values.map(Double.init)) }
        XCTAssertThrowsError(try lstm.loadStateDict(entries)) { error in
            XCTAssertEqual(error as? LSTMKitError, .stateDict(tensor: "weight_ih_l0", reason: "shape [12, 3] does not match the layer's [16, 3]"))
        }
    }
}
