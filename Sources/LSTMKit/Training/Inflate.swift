/// A DEFLATE (RFC 1951) decoder for `.npz` archives written by `np.savez_compressed`, after Mark Adler's puff.c:
/// canonical Huffman codes decoded bit by bit. Hostile input gives a typed error, never a trap: codes that are
/// over-subscribed or incomplete where a symbol is needed, a back-reference before the start of the output, a
/// stream that ends early, or more output than `expectedCount` (a "zip bomb" stops at the expected size).
struct Inflate {
    struct Failure: Error { let reason: String }

    private let input: UnsafeRawBufferPointer
    private var position = 0
    private var bitBuffer = 0
    private var bitCount = 0
    private(set) var output: [UInt8] = []
    private let limit: Int

    /// Decodes `input` (raw deflate, no zlib header), which must produce exactly `expectedCount` bytes.
    static func decode(_ input: UnsafeRawBufferPointer, expectedCount: Int) throws -> [UInt8] {
        var state = Inflate(input: input, limit: expectedCount)
        state.output.reserveCapacity(min(expectedCount, 1 << 26))
        try state.run()
        guard state.output.count == expectedCount else {
            throw Failure(reason: "the compressed data holds \(state.output.count) bytes, the archive says \(expectedCount)")
        }
        return state.output
    }

    private init(input: UnsafeRawBufferPointer, limit: Int) {
        self.input = input
        self.limit = limit
    }

    private mutating func bits(_ n: Int) throws -> Int {
        while bitCount < n {
            guard position < input.count else { throw Failure(reason: "the compressed data ends in the middle of a block") }
            bitBuffer |= Int(input[position]) << bitCount
            position += 1
            bitCount += 8
        }
        let value = bitBuffer & ((1 << n) - 1)
        bitBuffer >>= n
        bitCount -= n
        return value
    }

    private mutating func emit(_ byte: UInt8) throws {
        guard output.count < limit else { throw Failure(reason: "the compressed data holds more than the \(limit) bytes the archive says") }
        output.append(byte)
    }

    private mutating func run() throws {
        var last = 0
        repeat {
            last = try bits(1)
            switch try bits(2) {
            case 0: try stored()
            case 1: try codes(Self.fixedLengths, Self.fixedDistances)
            case 2: try dynamic()
            default: throw Failure(reason: "block type 3 does not exist")
            }
        } while last == 0
    }

    private mutating func stored() throws {
        bitBuffer = 0; bitCount = 0
        guard position + 4 <= input.count else { throw Failure(reason: "a stored block ends before its length") }
        let len = Int(input[position]) | Int(input[position + 1]) << 8
        let nlen = Int(input[position + 2]) | Int(input[position + 3]) << 8
        position += 4
        guard len == (~nlen & 0xFFFF) else { throw Failure(reason: "a stored block's length and its complement disagree") }
        guard position + len <= input.count else { throw Failure(reason: "a stored block runs past the end of the data") }
        for i in 0..<len { try emit(input[position + i]) }
        position += len
    }

    struct Huffman {
        var count = [Int](repeating: 0, count: 16)
        var symbol: [Int]
        /// Builds the code from code lengths; throws for an over-subscribed set. `complete` is false when codes are missing.
        init(_ lengths: [Int]) throws {
            symbol = [Int](repeating: 0, count: lengths.count)
            for l in lengths { count[l] += 1 }
            var left = 1
            for len in 1..<16 {
                left <<= 1
                left -= count[len]
                if left < 0 { throw Failure(reason: "a Huffman code is over-subscribed") }
            }
            var offsets = [Int](repeating: 0, count: 16)
            for len in 1..<15 { offsets[len + 1] = offsets[len] + count[len] }
            for (s, l) in lengths.enumerated() where l != 0 {
                symbol[offsets[l]] = s
                offsets[l] += 1
            }
        }
    }

    private mutating func decode(_ h: Huffman) throws -> Int {
        var code = 0, first = 0, index = 0
        for len in 1..<16 {
            code |= try bits(1)
            let count = h.count[len]
            if code - count < first { return h.symbol[index + (code - first)] }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw Failure(reason: "a code is not in the block's Huffman table")
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                               4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static let fixedLengths: Huffman = try! Huffman((0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
    static let fixedDistances: Huffman = try! Huffman([Int](repeating: 5, count: 30))

    private mutating func codes(_ lengths: Huffman, _ distances: Huffman) throws {
        while true {
            let symbol = try decode(lengths)
            if symbol < 256 { try emit(UInt8(symbol)); continue }
            if symbol == 256 { return }
            let s = symbol - 257
            guard s < 29 else { throw Failure(reason: "length symbol \(symbol) does not exist") }
            let length = Self.lengthBase[s] + (try bits(Self.lengthExtra[s]))
            let d = try decode(distances)
            guard d < 30 else { throw Failure(reason: "distance symbol \(d) does not exist") }
            let distance = Self.distanceBase[d] + (try bits(Self.distanceExtra[d]))
            guard distance <= output.count else {
                throw Failure(reason: "a back-reference of \(distance) bytes reaches before the start of the data (\(output.count) bytes so far)")
            }
            for _ in 0..<length { try emit(output[output.count - distance]) }
        }
    }

    private mutating func dynamic() throws {
        let nlen = try bits(5) + 257, ndist = try bits(5) + 1, ncode = try bits(4) + 4
        guard nlen <= 286, ndist <= 30 else { throw Failure(reason: "a dynamic block has too many codes (\(nlen), \(ndist))") }
        let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
        var codeLengths = [Int](repeating: 0, count: 19)
        for i in 0..<ncode { codeLengths[order[i]] = try bits(3) }
        let lencode = try Huffman(codeLengths)
        var lengths: [Int] = []
        lengths.reserveCapacity(nlen + ndist)
        while lengths.count < nlen + ndist {
            let symbol = try decode(lencode)
            if symbol < 16 { lengths.append(symbol); continue }
            var value = 0, repeatCount: Int
            switch symbol {
            case 16:
                guard let previous = lengths.last else { throw Failure(reason: "a repeat code comes before any code length") }
                value = previous
                repeatCount = 3 + (try bits(2))
            case 17: repeatCount = 3 + (try bits(3))
            default: repeatCount = 11 + (try bits(7))
            }
            guard lengths.count + repeatCount <= nlen + ndist else { throw Failure(reason: "code lengths repeat past the end of the table") }
            lengths += [Int](repeating: value, count: repeatCount)
        }
        guard lengths[256] != 0 else { throw Failure(reason: "a dynamic block has no end-of-block code") }
        try codes(try Huffman(Array(lengths[..<nlen])), try Huffman(Array(lengths[nlen...])))
    }
}
