/// The `Config` of a recurrent layer type (`LSTMLayer.Config`, `GRULayer.Config`): the fields every recurrent layer
/// saves are its `common` ones (`RecurrentLayer.CommonConfig`), read and written as the config's own:
/// `config.units`, `config.stateful = false`, ...
@dynamicMemberLookup
public protocol RecurrentLayerConfig {
    var common: RecurrentLayer.CommonConfig { get set }
}

extension RecurrentLayerConfig {
    /// A field of `common` (`units`, `returnSequences`, `returnState`, `stateful`, `activation`,
    /// `recurrentActivation`, `goBackwards`, `dropout`).
    public subscript<T>(dynamicMember field: WritableKeyPath<RecurrentLayer.CommonConfig, T>) -> T {
        get { common[keyPath: field] }
        set { common[keyPath: field] = newValue }
    }
}
