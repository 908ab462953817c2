import CLSTMCell
import Foundation
import XCTest
@testable import LSTMKit

/// Sources/CLSTMCell (the float32 LSTM cell of the CPU path, built for AVX-512F, AVX2 + FMA and baseline x86-64)
/// against the Float64 twins in CPUKernels (plain loops), on every option of the cell: bias or none, peepholes,
/// clipping, recurrent-dropout mask, no output row (projection), reverse, padded rows, and widths H that are a
/// multiple of the 16 lanes, smaller, and neither.
///
/// Tolerance: every output is a few float32 operations on float32 inputs of magnitude <= 3 (exp within 1 ulp), so
/// it is within a few eps32 (1.2e-7) of the Float64 result relative to the operands; 2e-6 + 2e-6 * |ref| is ~16
/// eps32 of headroom, and an indexing mistake (a wrong gate, row or lane) is off by O(0.1-1).
/// The builds for the different instruction sets must agree bit for bit (no FMA contraction; the C file's claim),
/// with the next step's prefetch on and off.
final class CPUCellKernelTests: XCTestCase {
    struct Case: CustomStringConvertible {
        var B = 3, H = 37, T = 4, step = 1, reverse = false, bias = true, peephole = false, clip = 0.0, mask = false, output = true
        var lengths = [4, 2, 1]  // row 1 is padding from step 2 on, row 2 from step 1 on
        var description: String {
            "B \(B) H \(H) step \(step) reverse \(reverse) bias \(bias) peephole \(peephole) clip \(clip) mask \(mask) output \(output)"
        }
    }

    /// Every output of one forward and one backward step of `c`, in S, from the same (seeded) inputs.
    private func run<S: CPUScalar>(_ c: Case, as: S.Type) -> [String: [Double]] {
        let (B, H, T, G) = (c.B, c.H, c.T, 4 * c.H)
        var buffers: [String: UnsafeMutablePointer<S>] = [:], counts: [String: Int] = [:]
        defer { for p in buffers.values { p.deallocate() } }
        /// A seeded buffer of n values in [-scale, scale] (or a 0/2 dropout mask).
        func buffer(_ name: String, _ n: Int, _ seed: UInt64, scale: Double = 1.5, mask: Bool = false) -> UnsafeMutablePointer<S> {
            let p = UnsafeMutablePointer<S>.allocate(capacity: n)
            for (i, v) in randomValues(n, seed: seed, scale: scale).enumerated() { p[i] = mask ? (v > 0 ? 2 : 0) : S(v) }
            buffers[name] = p
            counts[name] = n
            return p
        }
        let gx = buffer("gx", T * B * G, 1), r = buffer("r", B * G, 2)
        let bih = buffer("bih", G, 3, scale: 0.5), bhh = buffer("bhh", G, 4, scale: 0.5)
        let hs = buffer("hs", (T + 1) * B * H, 5), cs = buffer("cs", (T + 1) * B * H, 6), gates = buffer("gates", T * B * G, 7)
        let y = buffer("y", T * B * H, 8), peep = buffer("peep", 3 * H, 9, scale: 0.5)
        let rmask = buffer("rmask", B * H, 10, mask: true), hm = buffer("hm", (T + 1) * B * H, 11)
        let dy = buffer("dy", T * B * H, 12), dh = buffer("dh", B * H, 13), dc = buffer("dc", B * H, 14)
        let dgs = buffer("dgs", T * B * G, 15), dgt = buffer("dgt", T * B * G, 16)
        let lengths = c.lengths.map { Int32($0) }
        lengths.withUnsafeBufferPointer { len in
            CPUKernels.lstm_cell_forward(B, H, T, c.step, c.reverse, len.baseAddress!, gx, r, c.bias ? bih : nil, c.bias ? bhh : nil,
                                         hs, cs, gates, c.output ? y : nil, H, S(c.clip),
                                         c.peephole ? peep : nil, c.mask ? rmask : nil, c.mask ? hm : nil)
            CPUKernels.lstm_cell_backward(B, H, T, c.step, c.reverse, len.baseAddress!, gates, cs, dy, H, dh, dc, dgs, dgt,
                                          S(c.clip), c.peephole ? peep : nil, c.mask ? rmask : nil)
        }
        var out: [String: [Double]] = [:]
        for name in ["hs", "cs", "gates", "y", "hm", "dh", "dc", "dgs", "dgt"] {
            out[name] = (0..<counts[name]!).map { Double(buffers[name]![$0]) }
        }
        return out
    }

    private var cases: [Case] {
        var all: [Case] = []
        for H in [37, 16, 5] {
            for step in [0, 1, 3] {
                for reverse in [false, true] {
                    all.append(Case(H: H, step: step, reverse: reverse))
                }
            }
        }
        all.append(Case(bias: false))
        all.append(Case(peephole: true))
        all.append(Case(clip: 0.5))
        all.append(Case(mask: true))
        all.append(Case(output: false))
        all.append(Case(H: 48, step: 2, reverse: true, peephole: true, clip: 0.7, mask: true))
        all.append(Case(B: 5, H: 64, T: 3, step: 2, lengths: [3, 3, 3, 3, 3]))
        return all
    }

    func testEveryInstructionSetMatchesFloat64AndEachOther() throws {
        let best = lstmkit_cell_set_isa(2)
        defer { _ = lstmkit_cell_set_isa(2); _ = lstmkit_cell_set_prefetch(1) }
        print("CLSTMCell: this CPU runs \(String(cString: lstmkit_cell_isa())); testing instruction sets 0...\(best)")
        var worst = 0.0
        for c in cases {
            let reference = run(c, as: Double.self)
            var first: [String: [Double]]? = nil
            for isa in 0...best {
                for prefetch: Int32 in [1, 0] {
                    XCTAssertEqual(lstmkit_cell_set_isa(Int32(isa)), Int32(isa))
                    XCTAssertEqual(lstmkit_cell_set_prefetch(prefetch), prefetch)
                    let got = run(c, as: Float.self)
                    for (name, ref) in reference.sorted(by: { $0.key < $1.key }) {
                        assertClose(got[name]!, ref, atol: 2e-6, rtol: 2e-6, "\(name), \(c), isa \(isa)")
                        worst = max(worst, zip(got[name]!, ref).map { abs($0 - $1) / (2e-6 + 2e-6 * abs($1)) }.max() ?? 0)
                    }
                    if let first {
                        for (name, v) in got where v != first[name]! {
                            XCTFail("\(name) differs between instruction set 0 with prefetch and \(isa), prefetch \(prefetch) (\(c))")
                        }
                    } else {
                        first = got
                    }
                }
            }
        }
        print("CLSTMCell vs Float64: worst error / tolerance \(String(format: "%.3f", worst))")
    }

    /// The padding rows carry the state and write zeros, whatever the instruction set.
    func testPaddingRowsCarryStateAndWriteZeros() throws {
        let c = Case(step: 2)  // rows 1 and 2 are past their lengths (2 and 1)
        let before = run(Case(step: 2, lengths: [4, 4, 4]), as: Float.self)
        let got = run(c, as: Float.self)
        let (B, H) = (c.B, c.H)
        for b in 1...2 {
            let prev = (c.step * B + b) * H, next = prev + B * H
            XCTAssertEqual(Array(got["hs"]![next..<(next + H)]), Array(got["hs"]![prev..<(prev + H)]), "h carried, row \(b)")
            XCTAssertEqual(Array(got["cs"]![next..<(next + H)]), Array(got["cs"]![prev..<(prev + H)]), "c carried, row \(b)")
            let yRow = (c.step * B + b) * H
            XCTAssertEqual(Array(got["y"]![yRow..<(yRow + H)]), Array(repeating: 0, count: H), "output zero, row \(b)")
            let g = (c.step * B + b) * 4 * H
            XCTAssertEqual(Array(got["dgs"]![g..<(g + 4 * H)]), Array(repeating: 0, count: 4 * H), "no gate gradient, row \(b)")
        }
        let row0 = (c.step * B + B) * H
        XCTAssertEqual(Array(got["hs"]![row0..<(row0 + H)]), Array(before["hs"]![row0..<(row0 + H)]), "row 0 unaffected")
    }
}
