import Foundation
#if canImport(LSTMKit)
import LSTMKit  // in the fuzz build (Fuzz/run.sh) this file is compiled into the same module as the parser
#endif

/// SplitMix64, seeded per case, so any case can be made again from (seed, index) alone.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}

/// Structure-aware mutations of safetensors files and model.json (version 2, and version 1 as legacy.model.json): they edit the header's numbers, names, dtypes,
/// shapes and offsets, the header length field, the payload (NaN, infinity) and the JSON structure.
struct Mutator {
    /// The roles a case file can play (its file name ends with the role).
    static let roles = ["lstm.safetensors", "model.safetensors", "optimizer.safetensors", "model.json", "legacy.model.json", "model.onnx", "data.npy", "data.npz"]

    let base: [String: Data]

    init(baseDirectory: URL) throws {
        var base: [String: Data] = [:]
        for role in Self.roles { base[role] = try Data(contentsOf: baseDirectory.appendingPathComponent(role)) }
        self.base = base
    }

    /// Case `index` of the run seeded with `seed`: (role, bytes).
    func mutation(seed: UInt64, index: Int) -> (role: String, data: Data) {
        var rng = SplitMix64(state: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        _ = rng.next()
        let role = rng.pick(Self.roles)
        let data = base[role]!
        if role.hasSuffix("model.json") { return (role, Self.mutateJSON(data, &rng)) }
        if role == "model.onnx" { return (role, Self.mutateProtobuf(data, &rng)) }
        if role == "data.npy" { return (role, Self.mutateNPY(data, &rng)) }
        if role == "data.npz" { return (role, Self.mutateZip(data, &rng)) }
        return (role, Self.mutateSafeTensors(data, &rng))
    }

    /// A mutation of any input (the libFuzzer custom mutator): safetensors-shaped input gets the safetensors edits,
    /// anything else the JSON edits.
    static func mutate(_ data: Data, _ rng: inout SplitMix64) -> Data {
        looksLikeSafeTensors(data) ? mutateSafeTensors(data, &rng) : mutateJSON(data, &rng)
    }

    static func looksLikeSafeTensors(_ data: Data) -> Bool {
        guard data.count >= 8 else { return false }
        let n = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        return n <= UInt64(data.count - 8)
    }

    // MARK: JSON text tokens

    struct Token { let range: Range<Int>; let kind: Kind; enum Kind { case number, string, key } }

    /// The number and string tokens of a JSON text (keys are strings followed by ':'). Tolerant of broken text.
    static func tokens(_ b: [UInt8]) -> [Token] {
        var out: [Token] = [], i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                let end = min(j + 1, b.count)
                var k = end
                while k < b.count && (b[k] == 0x20 || b[k] == 0x0A) { k += 1 }
                out.append(Token(range: i..<end, kind: k < b.count && b[k] == UInt8(ascii: ":") ? .key : .string))
                i = end
            } else if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
                var j = i + 1
                while j < b.count, let s = Optional(b[j]), (s >= UInt8(ascii: "0") && s <= UInt8(ascii: "9")) || s == UInt8(ascii: ".")
                        || s == UInt8(ascii: "e") || s == UInt8(ascii: "E") || s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { j += 1 }
                out.append(Token(range: i..<j, kind: .number))
                i = j
            } else {
                i += 1
            }
        }
        return out
    }

    static let numbers = ["-1", "0", "1", "2", "3", "5", "7", "8", "255", "1000", "1000000", "2147483647", "2147483648", "4294967296",
                          "1099511627776", "9007199254740993", "4611686018427387904", "9223372036854775807", "9223372036854775808",
                          "18446744073709551616", "1e12", "1e300", "-1e300", "1e400", "-5", "1.5", "0.5", "-0", "1e-300", "4.0", "1E2",
                          "-9223372036854775808", "00", "0x10", "NaN", "Infinity", "null", "true", "\"3\"", "[]", "{}", "[1]"]
    static let names = ["state.", "state.x.y", "state.1", "state.0.0", "state.0.1", "state.0.2", "state.-1.0", "state.01.0", "state.0.01",
                        "state.99999999999999999999.0", "state.9.0", "state..0", "state.0.0.0", "iterations", "", "__metadata__",
                        "\\u0077eight_ih_l0", "weight_ih_l0\\u0000", "0.weight", "3.weight", "1.weight_ih_l0", "caf\\u00e9", "cafe\\u0301",
                        "\\ud800", "\\uDBFF\\uDFFF", "weight_hh_l1_reverse", String(repeating: "x", count: 300)]
    static let dtypes = ["\"F16\"", "\"BF16\"", "\"I64\"", "\"U8\"", "\"BOOL\"", "\"F64\"", "\"F32\"", "\"XYZ\"", "\"\"", "\"f32\"", "5", "null",
                         "[]", "{}"]
    static let fragments = ["{", "}", "[", "]", ",", ":", "\"", "\\", "null", ",\"x\":1", "\u{00}", "\u{FF}", "1e999999", "[[[[[[[[",
                            "{\"a\":{\"b\":{\"c\":[]}}}", "\"\\ud800\"", "-", "0.", "1e", "\u{7F}"]

    private static func replace(_ b: inout [UInt8], _ r: Range<Int>, _ s: String) { b.replaceSubrange(r, with: Array(s.utf8)) }

    /// One edit of a JSON text (a safetensors header or model.json).
    private static func editJSON(_ b: inout [UInt8], _ rng: inout SplitMix64, extraNames: [String]) {
        let toks = tokens(b)
        let nums = toks.filter { $0.kind == .number }, keys = toks.filter { $0.kind == .key }, strs = toks.filter { $0.kind == .string }
        switch rng.below(12) {
        case 0, 1, 2:  // a number
            if let t = nums.isEmpty ? nil : rng.pick(nums) { replace(&b, t.range, rng.pick(numbers)) }
        case 3:  // a number from elsewhere, or off by one
            if nums.count >= 2 {
                let t = rng.pick(nums), u = rng.pick(nums)
                let text = String(decoding: b[u.range], as: UTF8.self)
                let delta = rng.pick([-8, -4, -1, 1, 4, 8]); let v = Int(text).map { "\($0 &+ delta)" } ?? text
                replace(&b, t.range, rng.chance(0.5) ? v : text)
            }
        case 4:  // a key: duplicated, or a hostile name
            if let t = keys.isEmpty ? nil : rng.pick(keys) {
                if rng.chance(0.4), let u = keys.isEmpty ? nil : rng.pick(keys) {
                    let text = String(decoding: b[u.range], as: UTF8.self)
                    replace(&b, t.range, text)
                } else {
                    replace(&b, t.range, "\"" + rng.pick(names + extraNames) + "\"")
                }
            }
        case 5:  // a string value
            if let t = strs.isEmpty ? nil : rng.pick(strs) { replace(&b, t.range, rng.chance(0.6) ? rng.pick(dtypes) : "\"" + rng.pick(names + extraNames) + "\"") }
        case 6:  // swap two numbers (e.g. reversed offsets)
            if nums.count >= 2 {
                let i = rng.below(nums.count - 1)
                let a = nums[i], c = nums[i + 1]
                let sa = Array(b[a.range]), sc = Array(b[c.range])
                b.replaceSubrange(c.range, with: sa)
                b.replaceSubrange(a.range, with: sc)
            }
        case 7:  // delete a range (a field, a bracket)
            if !b.isEmpty {
                let s = rng.below(b.count), n = 1 + rng.below(min(40, b.count - s))
                b.removeSubrange(s..<min(b.count, s + n))
            }
        case 8:  // insert a fragment
            b.insert(contentsOf: Array(rng.pick(fragments).utf8), at: rng.below(b.count + 1))
        case 9:  // flip a byte
            if !b.isEmpty { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }
        case 10:  // duplicate a member: copy a key and its value after itself
            if let t = keys.isEmpty ? nil : rng.pick(keys) {
                var depth = 0, j = t.range.upperBound
                while j < b.count {
                    let c = b[j]
                    if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                    if c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { if depth == 0 { break }; depth -= 1 }
                    if c == UInt8(ascii: ","), depth == 0 { break }
                    j += 1
                }
                let member = Array(b[t.range.lowerBound..<j])
                b.insert(contentsOf: member + [UInt8(ascii: ",")], at: t.range.lowerBound)
            }
        default:  // deep nesting in place of a value
            if let t = (nums + strs).isEmpty ? nil : rng.pick(nums + strs) {
                let depth = rng.pick([10, 70, 600, 5000])
                replace(&b, t.range, String(repeating: "[", count: depth) + (rng.chance(0.5) ? String(repeating: "]", count: depth) : ""))
            }
        }
    }

    // MARK: safetensors

    static func mutateSafeTensors(_ file: Data, _ rng: inout SplitMix64) -> Data {
        guard looksLikeSafeTensors(file) else { return mutateJSON(file, &rng) }
        let bytes = [UInt8](file)
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = Array(bytes[8..<(8 + n)]), payload = Array(bytes[(8 + n)...])
        // Where the tensors are, to aim payload edits at element boundaries.
        let ops = 1 + rng.below(3)
        var lengthEdit: UInt64?
        for _ in 0..<ops {
            switch rng.below(10) {
            case 0, 1, 2, 3, 4:
                Self.editJSON(&header, &rng, extraNames: [])
            case 5:  // non-finite or huge values in the payload (a float, a double, or the optimizer's step count)
                if payload.count >= 8 {
                    let width = rng.chance(0.5) ? 4 : 8
                    let at = rng.below(payload.count / width) * width
                    let bits: [UInt64] = width == 4
                        ? [0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x0000_0001, 0xFFFF_FFFF]
                        : [0x7FF8_0000_0000_0000, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000, 0x7E37_E43C_8800_759C /* 1e300 */,
                           0xBFF0_0000_0000_0000 /* -1 */, 0x3FE0_0000_0000_0000 /* 0.5 */, 0x4340_0000_0000_0001 /* 2^53+2 */,
                           0x43E0_0000_0000_0000 /* 2^63 */]
                    let v = rng.pick(bits)
                    for k in 0..<width where at + k < payload.count { payload[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
                }
            case 6:  // the header length field
                lengthEdit = rng.pick([UInt64(header.count) &+ 1, UInt64(header.count) &- 1, UInt64(header.count) &+ 8, 0, 7, 1 << 63, UInt64.max,
                                       100_000_001, UInt64(header.count + payload.count), UInt64(header.count + payload.count + 1), rng.next()])
            case 7:  // the data section one element short or long
                if rng.chance(0.5), !payload.isEmpty { payload.removeLast(min(payload.count, rng.pick([1, 4, 8]))) } else { payload += [UInt8](repeating: 0, count: rng.pick([1, 4, 8])) }
            case 8:  // whitespace: before '{', or non-space padding after the JSON
                if rng.chance(0.5) { header.insert(0x20, at: 0) } else { header.append(contentsOf: rng.pick([[0x00], [0x09], [0x41], [0x20, 0x7B]])) }
            default:  // a small header, hand-made: an edge of the format
                header = Array(rng.pick([
                    "{}", "[]", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}",
                    "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,-4],\"data_offsets\":[16,0]}}",
                    "{\"__metadata__\":{\"optimizer\":\"Adam\",\"optimizer\":\"SGD\"}}",
                    "{\"__metadata__\":{\"optimizer\":5}}",
                    "{\"iterations\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},\"state.\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
                ]).utf8)
            }
        }
        var out = Data()
        let length = lengthEdit ?? UInt64(header.count)
        withUnsafeBytes(of: length.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        out.append(contentsOf: payload)
        if rng.chance(0.05) { out = out.prefix(rng.below(out.count + 1)) }  // truncated
        return out
    }

    // MARK: ONNX (protobuf)

    /// Edits of a protobuf file at the wire level: varints (lengths, dims, tags) made huge, zero, negative or off by
    /// one; bytes flipped; spans cut, repeated or moved; float payloads overwritten with NaN, infinity or huge values;
    /// truncation. Varint starts are found by scanning (any byte whose predecessor has no continuation bit).
    static func mutateProtobuf(_ file: Data, _ rng: inout SplitMix64) -> Data {
        var b = [UInt8](file)
        guard !b.isEmpty else { return Data([0x0A, 0xFF]) }
        func varint(_ v: UInt64) -> [UInt8] {
            var v = v, out: [UInt8] = []
            repeat { out.append(UInt8(v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7 } while v != 0
            return out
        }
        let ops = 1 + rng.below(3)
        for _ in 0..<ops where !b.isEmpty {
            let at = rng.below(b.count)
            switch rng.below(8) {
            case 0, 1, 2:  // a varint at a varint start replaced
                var start = at
                while start > 0 && b[start - 1] & 0x80 != 0 { start -= 1 }
                var end = start
                while end < b.count && b[end] & 0x80 != 0 { end += 1 }
                end = min(end + 1, b.count)
                let old = b[start..<end].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element & 0x7F) << (7 * UInt64(min($1.offset, 9))) }
                let v = rng.pick([0, 1, old &+ 1, old &- 1, old &* 2, UInt64(Int32.max), 1 << 31, 1 << 40, 1 << 62, UInt64.max,
                                  UInt64(bitPattern: -1), UInt64(bitPattern: -5), rng.next()])
                b.replaceSubrange(start..<end, with: varint(v))
            case 3:  // bytes flipped
                for k in 0..<(1 + rng.below(4)) where at + k < b.count { b[at + k] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            case 4:  // a span cut
                b.removeSubrange(at..<min(b.count, at + 1 + rng.below(64)))
            case 5:  // a span repeated (duplicate fields, nodes, initializers)
                let span = Array(b[at..<min(b.count, at + 1 + rng.below(256))])
                b.insert(contentsOf: span, at: rng.below(b.count + 1))
            case 6:  // four bytes overwritten with a float edge value (NaN, infinity, FLT_MAX, tiny)
                let v: UInt32 = rng.pick([0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x0000_0001])
                for k in 0..<4 where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
            default:  // truncated
                b = Array(b.prefix(at))
            }
        }
        return Data(b)
    }

    // MARK: model.json

    static func mutateJSON(_ file: Data, _ rng: inout SplitMix64) -> Data {
        var b = [UInt8](file)
        let ops = 1 + rng.below(3)
        for _ in 0..<ops {
            switch rng.below(6) {
            case 0, 1, 2:
                editJSON(&b, &rng, extraNames: ["units", "inputDim", "outputDim", "rate", "projSize", "cellClip", "layer", "type", "LSTM",
                                                     "GRU", "Dense", "Bidirectional", "TimeDistributed", "Sequential", "Dropout", "Bogus",
                                                     "mergeMode", "bogus", "softmax", "x", "lstmkit.sequential",
                                                     "class_name", "config", "layers", "input_dim", "output_dim", "use_bias", "mask_zero",
                                                     "return_sequences", "return_state", "stateful", "proj_size", "cell_clip", "recurrent_dropout",
                                                     "peephole", "layer_norm", "merge_mode", "input_shape", "Embedding", "ave", "inputShape"])
            case 3:  // a field added to the first object after a random point
                let fields = ["\"projSize\": 5", "\"projSize\": 4", "\"projSize\": -1", "\"cellClip\": -1", "\"cellClip\": 1e400",
                              "\"cellClip\": 0.5", "\"recurrentDropout\": 1", "\"recurrentDropout\": 0.5", "\"peephole\": true",
                              "\"layerNorm\": true", "\"mergeMode\": \"bogus\"", "\"layer\": []", "\"layer\": [{\"type\": \"Dense\", \"units\": 2}]",
                              "\"units\": 1000000", "\"units\": 1e12", "\"inputDim\": 1099511627776", "\"outputDim\": 1000000000000",
                              "\"rate\": 1", "\"rate\": -0.5", "\"returnSequences\": true", "\"type\": \"GRU\"", "\"activation\": \"gelu\"",
                              // version 2's names
                              "\"proj_size\": 5", "\"proj_size\": 3", "\"proj_size\": -1", "\"cell_clip\": -1", "\"cell_clip\": 1e400",
                              "\"cell_clip\": null", "\"recurrent_dropout\": 1", "\"layer_norm\": true", "\"merge_mode\": \"ave\"",
                              "\"merge_mode\": 5", "\"layers\": []", "\"layer\": {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}",
                              "\"layer\": {\"class_name\": \"GRU\", \"config\": {\"units\": 16777216}}", "\"class_name\": \"LSTM\"",
                              "\"class_name\": \"Sequential\"", "\"config\": {}", "\"config\": null", "\"input_dim\": 1099511627776",
                              "\"output_dim\": 0", "\"return_sequences\": true", "\"use_bias\": false", "\"mask_zero\": 1"]
                if let at = b.indices.filter({ b[$0] == UInt8(ascii: "{") }).randomElement(using: &rng) {
                    b.insert(contentsOf: Array((rng.pick(fields) + ",").utf8), at: at + 1)
                }
            case 4:  // the inputShape or a whole layer list replaced
                let shapes = ["[]", "[-5]", "[4611686018427387904]", "[1,2,3,4,5,6,7,8,9]", "[0]", "[5, 3]", "[1e300]", "[16777217]",
                              "[65536, 65536]", "null", "5"]
                // Found in the bytes (the input may not be UTF-8, so no String offsets).
                let key = Array((rng.chance(0.5) ? #""inputShape""# : #""input_shape""#).utf8)
                if let start = (0..<max(0, b.count - key.count + 1)).first(where: { b[$0..<($0 + key.count)].elementsEqual(key) }),
                   let close = b[start...].firstIndex(of: UInt8(ascii: "]")) {
                    replace(&b, start..<(close + 1), String(decoding: key, as: UTF8.self) + ": " + rng.pick(shapes))
                }
            default:  // deeply nested layers
                let depth = rng.pick([7, 8, 9, 30, 600, 2000])
                let inner = rng.pick(["{\"type\":\"Dense\",\"units\":2}", "{\"type\":\"LSTM\",\"units\":4}"])
                let kind = rng.pick(["Sequential", "Bidirectional", "TimeDistributed"])
                if rng.chance(0.5) {
                    let nested = String(repeating: "{\"type\":\"\(kind)\",\"layer\":[", count: depth) + inner + String(repeating: "]}", count: depth)
                    b = Array("{\"format\":\"lstmkit.sequential\",\"version\":1,\"inputShape\":[5],\"seed\":1,\"layers\":[{\"type\":\"Embedding\",\"inputDim\":6,\"outputDim\":3},\(nested)]}".utf8)
                } else {  // version 2: {"class_name": kind, "config": {"layer": ...}} ("layers": [...] for a Sequential)
                    let field = kind == "Sequential" ? "\"layers\":[" : "\"layer\":"
                    let close = kind == "Sequential" ? "]}}" : "}}"
                    let leaf = inner.replacingOccurrences(of: "{\"type\":\"Dense\",\"units\":2}", with: "{\"class_name\":\"Dense\",\"config\":{\"units\":2}}")
                        .replacingOccurrences(of: "{\"type\":\"LSTM\",\"units\":4}", with: "{\"class_name\":\"LSTM\",\"config\":{\"units\":4}}")
                    let nested = String(repeating: "{\"class_name\":\"\(kind)\",\"config\":{\(field)", count: depth) + leaf + String(repeating: close, count: depth)
                    b = Array("{\"format\":\"lstmkit.sequential\",\"version\":2,\"input_shape\":[5],\"seed\":1,\"layers\":[{\"class_name\":\"Embedding\",\"config\":{\"input_dim\":6,\"output_dim\":3}},\(nested)]}".utf8)
                }
            }
        }
        if rng.chance(0.03) { b = Array(b.prefix(rng.below(b.count + 1))) }
        return Data(b)
    }
}

extension SplitMix64: RandomNumberGenerator {}

/// Writes a file without Foundation's fsync (thousands of small scratch files; nothing here must survive a crash).
/// An old file is unlinked first rather than truncated: on ext4 truncating a written file flushes it (8 ms here).
func writeFile(_ data: Data, to url: URL) throws {
    unlink(url.path)
    guard let f = fopen(url.path, "wb") else { throw LSTMKitError.io(path: url.path, reason: "cannot create") }
    defer { fclose(f) }
    let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    guard written == data.count else { throw LSTMKitError.io(path: url.path, reason: "short write") }
}

// MARK: .npy and .npz (DataArray's loaders)

extension Mutator {
    /// A `.npy` file: edits of the header dict's numbers, quotes and keys (the npy header is a Python literal), of the
    /// version and header-length fields, NaN/huge payload values, and a data section one element short or long.
    static func mutateNPY(_ file: Data, _ rng: inout SplitMix64) -> Data {
        var b = [UInt8](file)
        guard b.count >= 10 else { return file }
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(8) {
            case 0, 1:  // a shape dimension or other digit run: huge, zero, negative
                let digits = b.indices.filter { $0 >= 10 && b[$0] >= 0x30 && b[$0] <= 0x39 }
                if let at = digits.isEmpty ? nil : rng.pick(digits) {
                    let text = rng.pick(["0", "99999999999999999999", "4294967296", "-1", "2.0", "1e9", "", "3L", String(rng.next())])
                    b.replaceSubrange(at...at, with: Array(text.utf8))
                }
            case 2:  // the dtype and order: other letters and sizes
                if let at = b.firstIndex(of: UInt8(ascii: "<")) ?? b.firstIndex(of: UInt8(ascii: "|")), at + 2 < b.count {
                    b[at + rng.below(3)] = rng.pick(Array("<>|=fiubcOSUV1248".utf8))
                }
            case 3:  // keys and punctuation
                let punct = b.indices.filter { $0 >= 10 && [0x27, 0x3A, 0x2C, 0x28, 0x29, 0x7B, 0x7D].contains(b[$0]) }
                if let at = punct.isEmpty ? nil : rng.pick(punct) { b[at] = rng.pick([0x27, 0x22, 0x3A, 0x2C, 0x20, 0x5C, 0x00, 0x80]) }
            case 4:  // version and header length
                let at = rng.pick([6, 7, 8, 9])
                b[at] = rng.pick([0, 1, 2, 3, 4, 0xFF, UInt8(truncatingIfNeeded: rng.next())])
            case 5:  // non-finite payload values
                if b.count >= 4 {
                    let at = b.count - 4 * (1 + rng.below(max(1, (b.count - 10) / 4)))
                    let v: UInt32 = rng.pick([0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF])
                    for k in 0..<4 where at + k >= 0 && at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
                }
            case 6:  // one element short or long
                if rng.chance(0.5) { b.removeLast(min(b.count, rng.pick([1, 4, 8]))) } else { b += [UInt8](repeating: 0, count: rng.pick([1, 4, 8])) }
            default:
                b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return Data(b)
    }

    /// A `.npz` (ZIP) file: the 16- and 32-bit fields after each signature (sizes, offsets, counts, name and extra
    /// lengths, method, flags) set to edge values, truncations, and byte edits of the (deflated) entries.
    static func mutateZip(_ file: Data, _ rng: inout SplitMix64) -> Data {
        var b = [UInt8](file)
        guard b.count >= 22 else { return file }
        let signatures = b.indices.filter { $0 + 4 <= b.count && b[$0] == 0x50 && b[$0 + 1] == 0x4B && [1, 3, 5, 6].contains(b[$0 + 2]) }
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(5) {
            case 0, 1, 2:
                guard let s = signatures.isEmpty ? nil : rng.pick(signatures) else { continue }
                let field = s + 4 + 2 * rng.below(21)
                let width = rng.chance(0.5) ? 2 : 4
                let v: UInt64 = rng.pick([0, 1, 0xFFFF, 0xFFFF_FFFF, 8, 12, 0x7FFF_FFFF, UInt64(b.count), rng.next()])
                for k in 0..<width where field + k < b.count { b[field + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 3:
                b.removeLast(min(b.count - 1, 1 + rng.below(64)))
            default:
                b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return Data(b)
    }
}
