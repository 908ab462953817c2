import CBLAS
import Foundation

/// How a Keras-style layer draws a weight's initial values (Keras's `keras.initializers`, same names, same
/// defaults, same formulas). Values are drawn on the host from the layer's seed and uploaded, so the CPU and
/// the OpenCL device start from identical weights.
///
/// Shapes are Keras's layouts (`Dense` kernel `[in, units]`, LSTM kernel `[in, 4*units]`, recurrent kernel
/// `[units, 4*units]`); the layers transpose into their PyTorch layouts after drawing. Fans are Keras's
/// `compute_fans`: for `[a, b]` fan_in = a, fan_out = b; for `[a]` both are a.
///
/// - `glorotUniform`: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
/// - `glorotNormal`, `heNormal`, `lecunNormal`: a normal truncated at 2 standard deviations, with the standard
///   deviation sqrt(scale / fan) / 0.87962566103423978 (scale 1, 2, 1; fan (in + out) / 2, in, in).
/// - `heUniform`, `lecunUniform`: U(-l, l), l = sqrt(3 * scale / fan_in) with scale 2 and 1.
/// - `orthogonal(gain:)`: the Q of the QR decomposition of a normal `[max(r, c), min(r, c)]` matrix (signs
///   fixed so that R's diagonal is positive), transposed when r < c, times `gain`; r = the product of all
///   dimensions but the last, c = the last. Rows (r <= c) or columns (r >= c) are orthonormal.
/// - `randomUniform` U(minval, maxval), `randomNormal` N(mean, stddev), `truncatedNormal` N(mean, stddev)
///   truncated at 2 stddev (Keras's defaults: +-0.05 and 0.05).
/// - `zeros`, `ones`, `constant(value)`.
public enum Initializer: Equatable, Sendable, Codable {
    case glorotUniform
    case glorotNormal
    case heUniform
    case heNormal
    case lecunUniform
    case lecunNormal
    case orthogonal(gain: Double = 1)
    case zeros
    case ones
    case constant(Double)
    case randomUniform(minval: Double = -0.05, maxval: Double = 0.05)
    case randomNormal(mean: Double = 0, stddev: Double = 0.05)
    case truncatedNormal(mean: Double = 0, stddev: Double = 0.05)

    /// Keras's name for it (`keras.initializers.get(name)`).
    public var kerasName: String {
        switch self {
        case .glorotUniform: "glorot_uniform"
        case .glorotNormal: "glorot_normal"
        case .heUniform: "he_uniform"
        case .heNormal: "he_normal"
        case .lecunUniform: "lecun_uniform"
        case .lecunNormal: "lecun_normal"
        case .orthogonal: "orthogonal"
        case .zeros: "zeros"
        case .ones: "ones"
        case .constant: "constant"
        case .randomUniform: "random_uniform"
        case .randomNormal: "random_normal"
        case .truncatedNormal: "truncated_normal"
        }
    }

    /// The initializer Keras's string `name` names, with Keras's default arguments ("uniform" and "normal" are
    /// Keras's aliases of random_uniform and random_normal).
    public init(kerasName name: String) throws {
        let all: [Initializer] = [.glorotUniform, .glorotNormal, .heUniform, .heNormal, .lecunUniform, .lecunNormal, .orthogonal(),
                                  .zeros, .ones, .constant(0), .randomUniform(), .randomNormal(), .truncatedNormal()]
        let aliases: [String: Initializer] = ["uniform": .randomUniform(), "normal": .randomNormal()]
        guard let found = all.first(where: { $0.kerasName == name }) ?? aliases[name] else {
            throw LSTMKitError.invalidArgument(name: "initializer", value: name,
                                               reason: "unknown; use one of " + all.map(\.kerasName).joined(separator: ", "))
        }
        self = found
    }

    /// Keras's `compute_fans` for `shape`.
    static func fans(_ shape: [Int]) -> (fanIn: Double, fanOut: Double) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (Double(shape[0]), Double(shape[0]))
        case 2: return (Double(shape[0]), Double(shape[1]))
        default:  // convolution kernels: receptive field x channels
            let field = Double(shape.dropLast(2).reduce(1, *))
            return (Double(shape[shape.count - 2]) * field, Double(shape[shape.count - 1]) * field)
        }
    }

    /// Checks the arguments (called when a layer is built).
    func validate(_ what: String) throws {
        func bad(_ value: String, _ reason: String) -> LSTMKitError { .invalidArgument(name: what, value: value, reason: reason) }
        switch self {
        case .orthogonal(let gain): guard gain.isFinite else { throw bad("orthogonal(gain: \(gain))", "gain must be finite") }
        case .constant(let v): guard v.isFinite else { throw bad("constant(\(v))", "the value must be finite") }
        case .randomUniform(let lo, let hi):
            guard lo.isFinite, hi.isFinite, lo <= hi else { throw bad("randomUniform(\(lo), \(hi))", "needs finite minval <= maxval") }
        case .randomNormal(let m, let s), .truncatedNormal(let m, let s):
            guard m.isFinite, s.isFinite, s >= 0 else { throw bad("\(kerasName)(mean: \(m), stddev: \(s))", "needs a finite mean and stddev >= 0") }
        default: break
        }
    }

    /// Draws the values of a tensor of Keras shape `shape`, row-major, from `generator`.
    func values(shape: [Int], using generator: inout SeededGenerator) -> [Double] {
        let n = shape.reduce(1, *)
        let (fanIn, fanOut) = Self.fans(shape)
        func uniform(_ limit: Double) -> [Double] { (0..<n).map { _ in Double.random(in: -limit...limit, using: &generator) } }
        // Keras: stddev / 0.8796..., the standard deviation of a standard normal truncated at +-2.
        func truncated(scale: Double, fan: Double) -> [Double] {
            let s = (scale / max(1, fan)).squareRoot() / 0.87962566103423978
            return (0..<n).map { _ in s * Self.truncatedStandardNormal(&generator) }
        }
        switch self {
        case .glorotUniform: return uniform((6 / max(1, fanIn + fanOut)).squareRoot())
        case .glorotNormal: return truncated(scale: 1, fan: (fanIn + fanOut) / 2)
        case .heUniform: return uniform((6 / max(1, fanIn)).squareRoot())
        case .heNormal: return truncated(scale: 2, fan: fanIn)
        case .lecunUniform: return uniform((3 / max(1, fanIn)).squareRoot())
        case .lecunNormal: return truncated(scale: 1, fan: fanIn)
        case .orthogonal(let gain): return Self.orthogonal(shape: shape, gain: gain, &generator)
        case .zeros: return [Double](repeating: 0, count: n)
        case .ones: return [Double](repeating: 1, count: n)
        case .constant(let v): return [Double](repeating: v, count: n)
        case .randomUniform(let lo, let hi): return (0..<n).map { _ in lo == hi ? lo : Double.random(in: lo..<hi, using: &generator) }
        case .randomNormal(let m, let s): return (0..<n).map { _ in m + s * Self.standardNormal(&generator) }
        case .truncatedNormal(let m, let s): return (0..<n).map { _ in m + s * Self.truncatedStandardNormal(&generator) }
        }
    }

    /// N(0, 1) by Box-Muller (one of the pair; simple and exact enough for initial weights).
    static func standardNormal(_ g: inout SeededGenerator) -> Double {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &g), u2 = Double.random(in: 0..<1, using: &g)
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
    }

    /// N(0, 1) conditioned on |z| <= 2 (rejection: 95% of draws are kept).
    static func truncatedStandardNormal(_ g: inout SeededGenerator) -> Double {
        while true {
            let z = standardNormal(&g)
            if abs(z) <= 2 { return z }
        }
    }

    /// Keras's `Orthogonal`: Q of a normal [m, k] matrix (m = max(r, c), k = min(r, c)) by Gram-Schmidt, which
    /// gives the QR factor with a positive diagonal R, i.e. Keras's `q * sign(diag(r))`. Blocked classical
    /// Gram-Schmidt with reorthogonalisation (CGS2): each block of 64 columns is projected out of the previous
    /// columns twice with two cblas gemms, then orthonormalised within itself (twice), so a [3000, 1000] draw costs
    /// BLAS-3 time, not a Swift loop's.
    static func orthogonal(shape: [Int], gain: Double, _ g: inout SeededGenerator) -> [Double] {
        guard let c = shape.last, c > 0 else { return [] }
        let r = shape.dropLast().reduce(1, *)
        guard r > 0 else { return [] }
        let m = max(r, c), k = min(r, c), blockSize = 64
        // Column-major: column j is a[j*m ..< (j+1)*m] (row j of the row-major [k, m] array the gemms see).
        var a = (0..<(m * k)).map { _ in standardNormal(&g) }
        var projections = [Double](repeating: 0, count: blockSize * k)
        a.withUnsafeMutableBufferPointer { a in
            let q = a.baseAddress!
            for j0 in stride(from: 0, to: k, by: blockSize) {
                let nb = min(blockSize, k - j0), block = q + j0 * m
                if j0 > 0 {
                    projections.withUnsafeMutableBufferPointer { p in
                        for _ in 0..<2 {
                            // P [nb, j0] = block [nb, m] . Q[0..<j0]^T;  block -= P . Q[0..<j0]
                            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(nb), Int32(j0), Int32(m), 1,
                                        block, Int32(m), q, Int32(m), 0, p.baseAddress!, Int32(j0))
                            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nb), Int32(m), Int32(j0), -1,
                                        p.baseAddress!, Int32(j0), q, Int32(m), 1, block, Int32(m))
                        }
                    }
                }
                for j in j0..<(j0 + nb) {
                    let v = q + j * m
                    for _ in 0..<2 {
                        for i in j0..<j {
                            let dot = cblas_ddot(Int32(m), q + i * m, 1, v, 1)
                            cblas_daxpy(Int32(m), -dot, q + i * m, 1, v, 1)
                        }
                    }
                    let norm = cblas_dnrm2(Int32(m), v, 1)
                    cblas_dscal(Int32(m), norm > 0 ? 1 / norm : 0, v, 1)
                }
            }
        }
        // Q is [m, k]; the result is Q ([r, c] = [m, k]) when r >= c, else Q^T ([r, c] = [k, m]).
        var out = [Double](repeating: 0, count: r * c)
        for row in 0..<r {
            for col in 0..<c {
                out[row * c + col] = gain * (r >= c ? a[col * m + row] : a[row * m + col])
            }
        }
        return out
    }
}

/// `[rows, cols]` row-major -> `[cols, rows]` (Keras layouts to PyTorch's).
func transposed(_ v: [Double], rows: Int, cols: Int) -> [Double] {
    var out = [Double](repeating: 0, count: v.count)
    for i in 0..<rows { for j in 0..<cols { out[j * rows + i] = v[i * cols + j] } }
    return out
}
