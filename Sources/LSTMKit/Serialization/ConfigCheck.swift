/// The walk over model.json's layers before anything is built (`CheckedLayerConfig`): where it is, for the
/// errors, and what it has counted, against `ModelSpec`'s limits (sizes, parameters, nesting, layer count).
///
/// Errors are `LSTMKitError.invalidArgument` named `"model.json <layer>.<field>"`: `layers[1].config.units` in a
/// version 2 file, `layers[1].units` in a version 1 file (whose fields are the camelCase names).
public struct ConfigCheck {
    /// The file named in errors ("model.json").
    public let file: String
    /// The layer being checked, as errors name it: "layers[1]", "layers[1].config.layer" (version 1: "layers[1].layer[0]").
    public private(set) var path: String
    /// The class name of the layer being checked.
    public private(set) var className = ""
    /// Whether the file is a version 1 model.json (field names in errors are then the camelCase ones it has).
    let legacy: Bool
    /// How deep the layer being checked is nested (1 for the model's own layers).
    public private(set) var depth = 0
    /// The parameters (elements) of the layers checked so far.
    public private(set) var parameters = 0
    /// The layers checked so far, nested ones included.
    public private(set) var layerCount = 0

    /// Thrown through the walk when a layer's `Config` is not a `CheckedLayerConfig`: the walk stops there.
    struct Unchecked: Error {}

    init(file: String, legacy: Bool) {
        self.file = file
        self.legacy = legacy
        path = ""
    }

    /// The path of `field` of the layer being checked ("layers[1].config.use_bias"; version 1: "layers[1].useBias").
    public func fieldPath(_ field: String) -> String {
        guard legacy else { return "\(path).config.\(field)" }
        if field == "layers" { return "\(path).layer" }
        let words = field.split(separator: "_")
        return "\(path)." + words.prefix(1).joined() + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// The error for `field` of the layer being checked.
    public func field(_ field: String, _ value: Any, _ reason: String) -> LSTMKitError {
        .invalidArgument(name: "\(file) \(fieldPath(field))", value: "\(value)", reason: reason)
    }

    /// The error for the layer being checked as a whole (its place in the model, its input shape).
    public func layer(_ reason: String) -> LSTMKitError {
        .invalidArgument(name: "\(file) \(path)", value: className, reason: reason)
    }

    /// `value` when it is a size in 1...`ModelSpec.maxDimension`.
    @discardableResult
    public func dimension(_ value: Int, _ name: String) throws -> Int {
        guard (1...ModelSpec.maxDimension).contains(value) else { throw field(name, value, "must be in 1...\(ModelSpec.maxDimension)") }
        return value
    }

    /// Checks that `value` is a fraction in [0, 1) (a dropout rate).
    public func fraction(_ value: Double, _ name: String) throws {
        guard value.isFinite, value >= 0, value < 1 else { throw field(name, value, "must be in [0, 1)") }
    }

    /// Checks that the per-sample input has `rank` dimensions; `what` describes them ("[T, features]").
    public func requireRank(_ inputShape: [Int], _ rank: Int, _ what: String) throws {
        guard inputShape.count == rank else { throw layer("needs \(what) per sample, but gets shape \(inputShape)") }
    }

    /// Adds tensors of the given shapes, `times` each, to the model's parameter count; throws past
    /// `ModelSpec.maxParameters`, naming the layer.
    public mutating func addParameters(_ shapes: [[Int]], times: Int = 1) throws {
        for shape in shapes {
            guard let n = Memory.product([times] + shape) else { throw tooBig() }
            let (sum, overflow) = parameters.addingReportingOverflow(n)
            guard !overflow, sum <= ModelSpec.maxParameters else { throw tooBig() }
            parameters = sum
        }
    }

    private func tooBig() -> LSTMKitError {
        .invalidArgument(name: "\(file) \(path)", value: "too large", reason: "the model would hold more than \(ModelSpec.maxParameters) parameters")
    }

    /// Checks a layer held by the one being checked (a wrapper's `layer`, element `index` of a `Sequential`'s
    /// `layers`) on its per-sample `inputShape`; returns its per-sample output shape.
    public mutating func check(_ inner: AnyLayerConfig, field: String, index: Int? = nil, inputShape: [Int]) throws -> [Int] {
        let innerPath: String
        if legacy {
            innerPath = "\(path).layer[\(index ?? 0)]"
        } else {
            innerPath = "\(path).config.\(field)" + (index.map { "[\($0)]" } ?? "")
        }
        return try check(inner, path: innerPath, inputShape: inputShape)
    }

    /// Checks the layer `config` at `path`; returns its per-sample output shape.
    mutating func check(_ config: AnyLayerConfig, path: String, inputShape: [Int]) throws -> [Int] {
        let outer = (path: self.path, className: className)
        defer { (self.path, className) = outer; depth -= 1 }
        self.path = path
        className = config.className
        depth += 1
        guard depth <= ModelSpec.maxNesting else { throw layer("layers nest more than \(ModelSpec.maxNesting) deep") }
        layerCount += 1
        guard layerCount <= ModelSpec.maxLayers else { throw layer("a model may have at most \(ModelSpec.maxLayers) layers") }
        guard let checked = config.config as? any CheckedLayerConfig else { throw Unchecked() }
        return try checked.check(inputShape: inputShape, in: &self)
    }
}

extension ConfigCheck {
    /// A recurrent cell's activation pair: tanh, sigmoid, relu, hard_sigmoid or linear (as `RecurrentInputChecks`).
    func cellActivations(_ activation: Activation, _ recurrentActivation: Activation) throws {
        let cell: Set<Activation> = [.tanh, .sigmoid, .relu, .hardSigmoid, .linear]
        for (name, value) in [("activation", activation), ("recurrent_activation", recurrentActivation)] where !cell.contains(value) {
            throw field(name, value.rawValue, "a recurrent cell takes tanh, sigmoid, relu, hard_sigmoid or linear")
        }
    }
}
