/// RFC 4180 records of a CSV text ("," separator, double-quote quoting with "" for a quote, LF or CRLF line ends),
/// each with the 1-based line it starts on. Blank lines are not records. A quote that is never closed is a
/// `DataLoadError.invalidCSV` naming the line where the file ends.
public enum CSVRecords {
    public static func parse(_ text: String, path: String) throws -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = [], record: [String] = [], field = ""
        var inQuotes = false, fieldStarted = false
        var it = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        var line = 1, recordLine = 1
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        func finishRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].allSatisfy({ $0 == " " || $0 == "\t" })) { records.append((recordLine, record)) }
            record = []; field = ""; fieldStarted = false
        }
        while let c = next() {
            if inQuotes {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; pending = n }
                    } else { inQuotes = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where !fieldStarted:
                inQuotes = true; fieldStarted = true
            case ",":
                record.append(field); field = ""; fieldStarted = false
            case "\r":
                continue
            case "\n":
                finishRecord()
                line += 1
                recordLine = line
            default:
                field.unicodeScalars.append(c); fieldStarted = true
            }
        }
        if inQuotes {
            throw DataLoadError.invalidCSV(path: path, line: line, column: "\(record.count + 1)", reason: "a quoted field is never closed: add the missing \"")
        }
        if fieldStarted || !record.isEmpty || !field.isEmpty { finishRecord() }
        return records
    }
}
