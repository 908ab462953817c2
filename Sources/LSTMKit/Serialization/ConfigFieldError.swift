/// A field of model.json that a layer config refuses while it is decoded: where it is, what it holds and why.
/// `ModelSpec.decode` turns it into `LSTMKitError.invalidArgument` named `"model.json <path>"`.
struct ConfigFieldError: Error {
    let codingPath: [CodingKey]
    let value: String
    let reason: String

    /// Any key of a JSON object.
    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Throws for the first key of the object `decoder` holds that is not in `allowed`.
    static func rejectUnknownKeys(in decoder: Decoder, allowed: [String], of what: String) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw ConfigFieldError(codingPath: decoder.codingPath + [key], value: "set",
                                   reason: "not a field of \(what) (its fields: \(allowed.joined(separator: ", ")))")
        }
    }
}
