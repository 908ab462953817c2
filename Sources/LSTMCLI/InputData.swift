import Foundation
import LSTMKit
import LSTMKitData

/// The data sets compiled into the binary (Sources/LSTMKitData; see its README for sources and licences).
public enum ShippedData {
    /// Ambrose Bierce, *The Devil's Dictionary* (1911), public domain: the demo's text.
    public static let textName = "devils_dictionary.txt"
    /// Monthly mean sea-surface temperature, Nino 1+2 region, 1950-2010 (NOAA, public domain).
    public static let seriesName = "elnino_sst.csv"

    /// The bytes of a shipped file as a string.
    public static func string(_ name: String) throws -> String {
        var length = 0
        guard let pointer = lstmkit_data(name, &length) else { throw CLIError("no shipped data set named \(name)") }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// "builtin:NAME" names a shipped file wherever a path is accepted.
    static let prefix = "builtin:"
}

/// Reads a UTF-8 text file, or a shipped one ("builtin:NAME"). Missing, unreadable, empty or non-UTF-8 files
/// are one-line errors that say what to pass instead.
func readTextFile(_ path: String, option: String) throws -> String {
    if path.hasPrefix(ShippedData.prefix) { return try ShippedData.string(String(path.dropFirst(ShippedData.prefix.count))) }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError("\(path): no such file (check the path given to \(option))")
    }
    guard !isDirectory.boolValue else { throw CLIError("\(path) is a directory: give \(option) a file") }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw CLIError("\(path): cannot read the file (check its permissions)")
    }
    guard !data.isEmpty else { throw CLIError("\(path) is empty: give \(option) a file with data in it") }
    guard let text = String(data: data, encoding: .utf8) else {
        throw CLIError("\(path) is not UTF-8 text: convert it (e.g. iconv -t UTF-8) and try again")
    }
    guard !text.allSatisfy(\.isWhitespace) else { throw CLIError("\(path) holds only whitespace: give \(option) a file with data in it") }
    return text
}

/// A CSV file: a header line and rows of fields (RFC 4180 quoting, "," separator, LF or CRLF).
struct CSVTable {
    let path: String
    let header: [String]
    let rows: [[String]]

    /// The 1-based line of each row in the file (the header is line 1).
    let lines: [Int]

    init(path: String, option: String = "--csv") throws {
        self.path = path
        let text = try readTextFile(path, option: option)
        // Blank lines (and a trailing newline) are not rows.
        let records = try CSVTable.parse(text, path: path)
        guard let header = records.first else { throw CLIError("\(path) is empty: it needs a header line and rows") }
        self.header = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        rows = records.dropFirst().map(\.fields)
        lines = records.dropFirst().map(\.line)
        guard !rows.isEmpty else { throw CLIError("\(path) has a header but no rows: add data rows below the header") }
        for (i, row) in rows.enumerated() where row.count != header.fields.count {
            throw CLIError("\(path) line \(lines[i]) has \(row.count) fields but the header has \(header.fields.count): fix that line")
        }
    }

    var displayName: String {
        path.hasPrefix(ShippedData.prefix) ? "the shipped \(path.dropFirst(ShippedData.prefix.count))" : path
    }

    /// The index of column `name`; a one-line error listing the columns otherwise.
    func column(_ name: String, option: String) throws -> Int {
        if let i = header.firstIndex(of: name) { return i }
        if let i = header.firstIndex(where: { $0.lowercased() == name.lowercased() }) { return i }
        throw CLIError("\(displayName) has no column '\(name)' (its columns: \(header.joined(separator: ", "))): pass one of them with \(option)")
    }

    /// The values of a numeric column. A value that is not a number is an error naming its line.
    func numbers(_ name: String, option: String) throws -> [Double] {
        let c = try column(name, option: option)
        return try rows.enumerated().map { i, row in
            let field = row[c].trimmingCharacters(in: .whitespaces)
            guard let v = Double(field), v.isFinite else {
                let shown = field.isEmpty ? "an empty value" : "'\(field)'"
                throw CLIError("\(displayName) line \(lines[i]), column '\(header[c])': \(shown) is not a number: fix or remove that line")
            }
            return v
        }
    }

    /// The values of a column as strings.
    func strings(_ name: String, option: String) throws -> [String] {
        let c = try column(name, option: option)
        return rows.map { $0[c] }
    }

    /// The records of `text` with their lines (LSTMKit's `CSVRecords`, the parser of `DataArray(csv:)`).
    static func parse(_ text: String, path: String) throws -> [(line: Int, fields: [String])] {
        do { return try CSVRecords.parse(text, path: path) } catch let DataLoadError.invalidCSV(_, line, _, reason) {
            throw CLIError("\(path) line \(line): \(reason)")
        }
    }
}

/// Quotes a CSV field when needed.
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
