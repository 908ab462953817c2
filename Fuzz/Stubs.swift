// Stand-ins for the layer classes and the registry, so that the fuzz build (Fuzz/run.sh) compiles the library's own
// model.json code (ModelSpec, AnyLayerConfig, ConfigCheck, the legacy reader and every NN/<Type>+Config.swift) without
// Tensor, Device or the backends. Each stand-in has the stored properties and initialiser the +Config file uses;
// build() and forward() are not needed: the fuzz target decodes, checks and makes layers, it never runs them.

public protocol Layer: AnyObject {}

public final class Device: Sendable {
    public static let cpu = Device()
}

public final class Dense: Layer {
    public let units: Int, activation: Activation, useBias: Bool
    public init(units: Int, activation: Activation = .linear, useBias: Bool = true) {
        self.units = units; self.activation = activation; self.useBias = useBias
    }
}

public final class Embedding: Layer {
    public let inputDim: Int, outputDim: Int, maskZero: Bool
    public init(inputDim: Int, outputDim: Int, maskZero: Bool = false) { self.inputDim = inputDim; self.outputDim = outputDim; self.maskZero = maskZero }
}

public final class Dropout: Layer {
    public let rate: Double
    public init(_ rate: Double) { self.rate = rate }
}

public final class TimeDistributed: Layer {
    public let inner: Layer
    public init(_ inner: Layer) { self.inner = inner }
}

public class RecurrentLayer: Layer {
    public let cell: RecurrentCell, units: Int, returnSequences: Bool, returnState: Bool, stateful: Bool, options: LSTMOptions
    public let activation: Activation, recurrentActivation: Activation, goBackwards: Bool, dropout: Double
    init(cell: RecurrentCell, units: Int, returnSequences: Bool, returnState: Bool, stateful: Bool, options: LSTMOptions = LSTMOptions(),
         activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, goBackwards: Bool = false, dropout: Double = 0) {
        self.cell = cell; self.units = units; self.returnSequences = returnSequences; self.returnState = returnState
        self.stateful = stateful; self.options = options
        self.activation = activation; self.recurrentActivation = recurrentActivation; self.goBackwards = goBackwards; self.dropout = dropout
    }
}

public final class LSTMLayer: RecurrentLayer {
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                recurrentDropout: Double = 0, cellClip: Double? = nil, projSize: Int = 0, peephole: Bool = false, layerNorm: Bool = false,
                activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, goBackwards: Bool = false, dropout: Double = 0) {
        super.init(cell: .lstm, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                   options: LSTMOptions(projSize: projSize, peephole: peephole, layerNorm: layerNorm, cellClip: cellClip,
                                        recurrentDropout: recurrentDropout), activation: activation,
                   recurrentActivation: recurrentActivation, goBackwards: goBackwards, dropout: dropout)
    }
}

public final class GRULayer: RecurrentLayer {
    public init(units: Int, returnSequences: Bool = false, returnState: Bool = false, stateful: Bool = false,
                activation: Activation = .tanh, recurrentActivation: Activation = .sigmoid, goBackwards: Bool = false, dropout: Double = 0) {
        super.init(cell: .gru, units: units, returnSequences: returnSequences, returnState: returnState, stateful: stateful,
                   activation: activation, recurrentActivation: recurrentActivation, goBackwards: goBackwards, dropout: dropout)
    }
}

public final class Bidirectional: Layer {
    public let layer: RecurrentLayer, mergeMode: MergeMode
    public init(_ layer: RecurrentLayer, mergeMode: MergeMode = .concat) { self.layer = layer; self.mergeMode = mergeMode }
}

public final class Sequential: Layer {
    public let layers: [Layer]
    public init(_ layers: [Layer] = [], device: Device = .cpu, seed: UInt64 = 0) { self.layers = layers }
}

/// The stand-ins' registry (NN/LayerRegistry.swift lists the real types in `builtIn`; a layer type added there is not fuzzed
/// until it has a stand-in here).
public enum LayerRegistry {
    public static var types: [any ConfigurableLayer.Type] {
        [Dense.self, TimeDistributed.self, Embedding.self, Dropout.self, LSTMLayer.self, GRULayer.self, Bidirectional.self, Sequential.self]
    }
    public static func type(named className: String) -> (any ConfigurableLayer.Type)? { types.first { $0.kerasClassName == className } }
}
