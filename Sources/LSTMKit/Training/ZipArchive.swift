/// The entries of a ZIP archive (what `np.savez` and `np.savez_compressed` write), read from its central directory
/// with every size and offset checked: a single-disk archive whose end record, central directory and local headers
/// agree, with zip64 sizes where the 32-bit fields say so, entries that do not overlap and lie before the central
/// directory, no duplicate names, no encryption. Entries are stored (method 0) or deflated (method 8), and each
/// one's CRC-32 is checked. Errors are `DataLoadError.invalidFile` naming the archive and the entry.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: Int
        let crc32: UInt32
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    /// The most entries an archive may list.
    static let maxEntries = 1 << 20

    let path: String
    let entries: [Entry]

    init(_ raw: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        func fail(_ field: String, _ reason: String) -> DataLoadError { .invalidFile(path: path, field: field, reason: reason) }
        func u16(_ o: Int) -> Int { Int(raw[o]) | Int(raw[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        func u64(_ o: Int) -> UInt64 { UInt64(u32(o)) | UInt64(u32(o + 4)) << 32 }
        func int64(_ o: Int, _ what: String) throws -> Int {
            let v = u64(o)
            guard v <= UInt64(Int.max) else { throw fail("<zip64 end record>", "\(what) \(v) does not fit in Int") }
            return Int(v)
        }

        // The end of central directory record: the last signature whose comment runs exactly to the end of the file.
        guard raw.count >= 22 else { throw fail("<zip end record>", "\(raw.count) bytes are too few for a ZIP archive") }
        var eocd = -1
        var o = raw.count - 22
        while o >= max(0, raw.count - 22 - 65535) {
            if u32(o) == 0x0605_4b50, o + 22 + u16(o + 20) == raw.count { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw fail("<zip end record>", "not a ZIP archive (no end of central directory record)") }
        guard u16(eocd + 4) == 0, u16(eocd + 6) == 0, u16(eocd + 8) == u16(eocd + 10) else {
            throw fail("<zip end record>", "archives split over several disks are not supported")
        }
        var count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16)
        var cdLimit = eocd
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // Zip64: a locator just before the end record points to the zip64 end record.
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4b50 else { throw fail("<zip64 locator>", "missing, but the end record needs it") }
            let record = try int64(locator + 8, "zip64 end record offset")
            guard record <= locator - 56, u32(record) == 0x0606_4b50 else { throw fail("<zip64 end record>", "not found at offset \(record)") }
            count = try int64(record + 32, "entry count")
            cdSize = try int64(record + 40, "central directory size")
            cdOffset = try int64(record + 48, "central directory offset")
            cdLimit = record
        }
        guard count <= Self.maxEntries else { throw fail("<central directory>", "\(count) entries are more than the \(Self.maxEntries) accepted") }
        guard cdOffset <= cdLimit, cdSize == cdLimit - cdOffset else {
            throw fail("<central directory>", "offset \(cdOffset) and size \(cdSize) do not end where the end record starts (\(cdLimit))")
        }

        var entries: [Entry] = []
        var names = Set<String>()
        var p = cdOffset
        for i in 0..<count {
            let field = "<central directory entry \(i)>"
            guard p + 46 <= cdLimit, u32(p) == 0x0201_4b50 else { throw fail(field, "no central directory header at offset \(p)") }
            let flags = u16(p + 8), method = u16(p + 10)
            let crc = UInt32(u32(p + 16))
            var compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var offset = u32(p + 42)
            let end = p + 46 + nameLength + extraLength + commentLength
            guard end <= cdLimit else { throw fail(field, "its name, extra field and comment run past the central directory") }
            guard let name = String(bytes: UnsafeRawBufferPointer(rebasing: raw[(p + 46)..<(p + 46 + nameLength)]), encoding: .utf8) else {
                throw fail(field, "its name is not UTF-8")
            }
            let entryField = "entry '\(name)'"
            guard flags & 1 == 0 else { throw fail(entryField, "is encrypted") }
            guard names.insert(name).inserted else { throw fail(entryField, "appears twice") }
            // Zip64 extended information (header id 1): the 64-bit values of the fields set to 0xFFFFFFFF, in order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                guard e + 4 + length <= extraEnd else { throw fail(entryField, "an extra field runs past its end") }
                if id == 1 {
                    var q = e + 4
                    func next(_ what: String) throws -> Int {
                        guard q + 8 <= e + 4 + length else { throw fail(entryField, "its zip64 field lacks the \(what)") }
                        let v = u64(q); q += 8
                        guard v <= UInt64(Int.max) else { throw fail(entryField, "zip64 \(what) \(v) does not fit in Int") }
                        return Int(v)
                    }
                    if size == 0xFFFF_FFFF { size = try next("size") }
                    if compressed == 0xFFFF_FFFF { compressed = try next("compressed size") }
                    if offset == 0xFFFF_FFFF { offset = try next("local header offset") }
                }
                e += 4 + length
            }
            entries.append(Entry(name: name, method: method, crc32: crc, compressedSize: compressed, size: size, localHeaderOffset: offset))
            p = end
        }
        guard p == cdLimit else { throw fail("<central directory>", "\(cdLimit - p) bytes are left after its \(count) entries") }

        // Each entry's local header and data lie before the central directory, and no two overlap.
        var spans: [(Int, Int, String)] = []
        for entry in entries {
            let field = "entry '\(entry.name)'"
            let h = entry.localHeaderOffset
            guard h <= cdOffset - 30, u32(h) == 0x0403_4b50 else { throw fail(field, "no local header at offset \(h)") }
            let start = h + 30 + u16(h + 26) + u16(h + 28)
            guard start <= cdOffset, entry.compressedSize <= cdOffset - start else {
                throw fail(field, "its data (\(entry.compressedSize) bytes from offset \(start)) runs into the central directory at \(cdOffset)")
            }
            spans.append((h, start + entry.compressedSize, entry.name))
        }
        spans.sort { $0.0 < $1.0 }
        for (a, b) in zip(spans, spans.dropFirst()) where b.0 < a.1 {
            throw fail("entry '\(b.2)'", "overlaps entry '\(a.2)'")
        }
        self.entries = entries
    }

    /// The uncompressed bytes of `entry`, CRC-checked.
    func contents(of entry: Entry, in raw: UnsafeRawBufferPointer) throws -> [UInt8] {
        let field = "entry '\(entry.name)'"
        let h = entry.localHeaderOffset
        let start = h + 30 + (Int(raw[h + 26]) | Int(raw[h + 27]) << 8) + (Int(raw[h + 28]) | Int(raw[h + 29]) << 8)
        let data = UnsafeRawBufferPointer(rebasing: raw[start..<(start + entry.compressedSize)])
        let bytes: [UInt8]
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else {
                throw DataLoadError.invalidFile(path: path, field: field, reason: "is stored with \(entry.compressedSize) bytes but says it holds \(entry.size)")
            }
            bytes = Array(data)
        case 8:
            do { bytes = try Inflate.decode(data, expectedCount: entry.size) } catch let f as Inflate.Failure {
                throw DataLoadError.invalidFile(path: path, field: field, reason: "bad deflate data: \(f.reason)")
            }
        default:
            throw DataLoadError.invalidFile(path: path, field: field,
                                            reason: "compression method \(entry.method) is not supported (only stored, 0, and deflate, 8: np.savez or np.savez_compressed)")
        }
        let crc = Self.crc32(bytes)
        guard crc == entry.crc32 else {
            throw DataLoadError.invalidFile(path: path, field: field, reason: "CRC-32 \(String(crc, radix: 16)) does not match the archive's \(String(entry.crc32, radix: 16))")
        }
        return bytes
    }

    static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
