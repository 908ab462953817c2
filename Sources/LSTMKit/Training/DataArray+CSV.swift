import Foundation

/// CSV files into `DataArray`s: a header line of column names, then one sample per line.
///
///     let x = try DataArray(csv: URL(fileURLWithPath: "data.csv"), columns: ["temp", "wind"])   // [rows, 2]
///     let y = try DataArray(csv: url, columns: ["label"])                                       // [rows, 1]
///
/// Columns are picked by name (all columns, in file order, when `columns` is nil). Records follow RFC 4180
/// (`CSVRecords`). Every error is a `DataLoadError` naming the file, the line (the header is line 1) and the column:
/// a value that is not a finite number (or is empty), a line with another number of fields than the header, a
/// duplicate or empty column name, a column that is not there (`.notFound`, listing the columns).
extension DataArray {
    public init(csv url: URL, columns: [String]? = nil) throws {
        let data = try Self.readData(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataLoadError.invalidFile(path: url.path, field: "<text>", reason: "is not UTF-8 text")
        }
        try self.init(csvText: text, columns: columns, path: url.path)
    }

    /// The same from CSV text; `path` names it in errors.
    public init(csvText text: String, columns: [String]? = nil, path: String = "<csv>") throws {
        let records = try CSVRecords.parse(text, path: path)
        guard let header = records.first else { throw DataLoadError.invalidFile(path: path, field: "<header>", reason: "the file is empty: it needs a header line") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for (i, n) in names.enumerated() {
            guard !n.isEmpty else { throw DataLoadError.invalidCSV(path: path, line: header.line, column: "\(i + 1)", reason: "the column has no name") }
            guard seen.insert(n).inserted else { throw DataLoadError.invalidCSV(path: path, line: header.line, column: n, reason: "the name appears twice in the header") }
        }
        let picked: [Int] = try (columns ?? names).map { name in
            guard let i = names.firstIndex(of: name) else { throw DataLoadError.notFound(path: path, name: name, available: names) }
            return i
        }
        guard !picked.isEmpty else { throw DataLoadError.invalidFile(path: path, field: "columns", reason: "no column was asked for") }
        let rows = records.dropFirst()
        var values: [Float] = []
        values.reserveCapacity(rows.count * picked.count)
        for record in rows {
            guard record.fields.count == names.count else {
                throw DataLoadError.invalidCSV(path: path, line: record.line, column: names[min(record.fields.count, names.count - 1)],
                                               reason: "the line has \(record.fields.count) fields but the header has \(names.count)")
            }
            for c in picked {
                let text = record.fields[c].trimmingCharacters(in: .whitespaces)
                guard let v = Double(text), v.isFinite, Float(v).isFinite else {
                    throw DataLoadError.invalidCSV(path: path, line: record.line, column: names[c],
                                                   reason: text.isEmpty ? "the value is empty" : "'\(text)' is not a finite number (in Float32's range)")
                }
                values.append(Float(v))
            }
        }
        try self.init(shape: [rows.count, picked.count], values: values)
    }
}
