/// A layer config that can be checked before anything is allocated: `Sequential.load(from:)` walks model.json's
/// layers with it, range-checking every field and counting the parameters `build` would create, so a hostile file
/// gets a typed error naming the layer and field rather than a huge allocation.
///
/// A `ConfigurableLayer` whose `Config` does not conform still loads; its sizes are then checked only by its
/// own `build` (and by the memory checks every allocation passes), and so are those of the layers after it.
public protocol CheckedLayerConfig {
    /// Range-checks the fields and follows the per-sample `inputShape` (without the batch) through the layer as
    /// `build` will, adding its parameters with `check.addParameters`; returns the per-sample output shape.
    /// Errors come from `check` (`check.field(...)`, `check.dimension(...)`, ...), which names the file, layer and field.
    func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int]
}
