import Foundation

/// A strict JSON parser (RFC 8259) for headers read from untrusted files (safetensors headers).
///
/// Unlike `JSONSerialization` it keeps the members of an object in file order, so duplicate keys are seen
/// rather than silently merged; it keeps numbers as their text, so `1e300` or `2.5` is never rounded into an
/// `Int`; it rejects invalid UTF-8, control characters in strings and lone surrogates; and it bounds the
/// nesting depth, so no input can exhaust the stack. Everything is iterative per level and linear in the size.
enum StrictJSON {
    /// One member of an object.
    struct Member {
        let key: String
        let value: Value
    }

    indirect enum Value {
        case object([Member])
        case array([Value])
        case string(String)
        /// The number as written (validated against the JSON grammar).
        case number(String)
        case bool(Bool)
        case null

        /// What kind of value this is, for messages.
        var kind: String {
            switch self {
            case .object: return "an object"
            case .array: return "an array"
            case .string: return "a string"
            case .number(let text): return "the number \(text)"
            case .bool(let b): return "\(b)"
            case .null: return "null"
            }
        }

        /// The value as a non-negative `Int`: a number written without fraction or exponent that fits.
        var nonNegativeInt: Int? {
            guard case .number(let text) = self, let first = text.utf8.first, first != UInt8(ascii: "-"),
                  !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return nil }
            return Int(text)
        }
    }

    struct SyntaxError: Error {
        let offset: Int
        let reason: String
    }

    /// Parses one JSON value that fills `bytes` (whitespace allowed around it).
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(SyntaxError) -> Value {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw SyntaxError(offset: parser.index, reason: "unexpected data after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var index = 0

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        private func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: index, reason: reason) }
        private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { index += 1 }
        }

        private mutating func expect(_ literal: StaticString) throws(SyntaxError) {
            let n = literal.utf8CodeUnitCount
            guard bytes.count - index >= n else { throw fail("unexpected end of the JSON text") }
            for i in 0..<n where bytes[index + i] != literal.utf8Start[i] { throw fail("invalid literal") }
            index += n
        }

        mutating func parseValue(depth: Int) throws(SyntaxError) -> Value {
            guard let c = current else { throw fail("unexpected end of the JSON text") }
            switch c {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw fail("unexpected character 0x\(String(c, radix: 16))")
            }
        }

        private mutating func parseObject(depth: Int) throws(SyntaxError) -> Value {
            guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep") }
            index += 1
            var members: [Member] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
                index += 1
                skipWhitespace()
                members.append(Member(key: key, value: try parseValue(depth: depth)))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return .object(members)
                default: throw fail("expected ',' or '}' in an object")
                }
            }
        }

        private mutating func parseArray(depth: Int) throws(SyntaxError) -> Value {
            guard depth <= maxDepth else { throw fail("nested more than \(maxDepth) levels deep") }
            index += 1
            var elements: [Value] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return .array(elements)
                default: throw fail("expected ',' or ']' in an array")
                }
            }
        }

        private mutating func parseNumber() throws(SyntaxError) -> Value {
            let start = index
            func digits(_ p: inout Parser) -> Int {
                let s = p.index
                while let c = p.current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { p.index += 1 }
                return p.index - s
            }
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else {
                guard digits(&self) > 0 else { throw fail("invalid number") }
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw fail("invalid number: no digits after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw fail("invalid number: no digits in the exponent") }
            }
            return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
        }

        private mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard bytes.count - index >= 4 else { throw fail("unexpected end in a \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[index]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | d
                index += 1
            }
            return v
        }

        private mutating func parseString() throws(SyntaxError) -> String {
            index += 1  // the opening quote
            var utf8: [UInt8] = []
            while true {
                guard let c = current else { throw fail("unterminated string") }
                index += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: utf8, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard let e = current else { throw fail("unterminated escape") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(e)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                                throw fail("a lone UTF-16 surrogate in a \\u escape")
                            }
                            index += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw fail("a lone UTF-16 surrogate in a \\u escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar < 0xE000 {
                            throw fail("a lone UTF-16 surrogate in a \\u escape")
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                        utf8.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw fail("invalid escape \\\(Character(Unicode.Scalar(e)))")
                    }
                case 0x00..<0x20: throw fail("a control character in a string")
                default: utf8.append(c)
                }
            }
        }
    }
}

extension StrictJSON {
    /// The keys of the JSON object `data` holds (empty for any other value); `JSONEncoder` output, so valid.
    static func objectKeys(of data: Data) throws -> Set<String> {
        let value: Value
        do { value = try data.withUnsafeBytes { try parse($0) } } catch let error as SyntaxError {
            throw LSTMKitError.invalidArgument(name: "encoded config", value: "not JSON", reason: "\(error.reason) at byte \(error.offset)")
        }
        guard case .object(let members) = value else { return [] }
        return Set(members.map(\.key))
    }
}
