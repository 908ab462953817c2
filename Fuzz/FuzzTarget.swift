import Foundation

// libFuzzer entry points for the safetensors parser and the model.json loader (built by Fuzz/run.sh from the
// library's own sources: Errors.swift, StrictJSON.swift, SafeTensors.swift, ModelSpec.swift and the layer configs,
// one copy each, with stand-in layer classes from Stubs.swift).

/// Every input goes through both loaders. Success must mean a consistent result: these preconditions turn a
/// silently wrong answer into a crash libFuzzer reports.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let data = Data(bytes: bytes, count: size)
    do {
        let entries = try SafeTensors.parse(data, path: "fuzz")
        var total = 0
        for (name, e) in entries {
            precondition(e.dtype == "F32" || e.dtype == "F64", "\(name): dtype \(e.dtype) read")
            precondition(e.shape.allSatisfy { $0 >= 0 }, "\(name): negative dimension \(e.shape)")
            precondition(e.values.count == e.shape.reduce(1, *), "\(name): \(e.values.count) values for \(e.shape)")
            total += e.values.count * (e.dtype == "F32" ? 4 : 8)
            _ = try? SafeTensors.checkFinite(e.values, tensor: name, precision: .float32, suffix: "")
        }
        precondition(total <= size, "read \(total) bytes from a \(size)-byte file")
    } catch let error as LSTMKitError {
        guard case let .stateDict(tensor, _) = error, !tensor.isEmpty else { preconditionFailure("unnamed error \(error)") }
    } catch {
        preconditionFailure("foreign error \(error)")
    }
    do {
        let header = try data.withUnsafeBytes { try SafeTensors.parseHeader($0, path: "fuzz") }
        var position = 0
        for t in header.tensors {
            precondition(t.begin == position && t.end >= t.begin, "\(t.name): offsets \(t.begin)..<\(t.end) after \(position)")
            position = t.end
        }
        precondition(header.dataStart + position == size, "the tensors do not cover the file")
    } catch {}
    var loaded: ModelSpec?
    do {
        let spec = try ModelSpec.decode(data)
        precondition(!spec.layers.isEmpty && spec.inputShape.allSatisfy { $0 >= 1 && $0 <= ModelSpec.maxDimension })
        loaded = spec
    } catch let error as LSTMKitError {
        guard case let .invalidArgument(name, _, _) = error, name.hasPrefix("model.json") else { preconditionFailure("unnamed error \(error)") }
    } catch {
        preconditionFailure("foreign error \(error)")
    }
    // What loads (version 1 included) saves as version 2 and loads again unchanged, and its layers can be made.
    if let spec = loaded {
        do {
            let again = try ModelSpec.decode(try JSONEncoder().encode(spec))
            precondition(again.layers == spec.layers && again.inputShape == spec.inputShape && again.seed == spec.seed, "re-encoded model.json differs")
            for layer in spec.layers {
                let made = AnyLayerConfig(layer: try layer.makeLayer())
                precondition(made == layer, "\(layer): makeLayer gives \(made)")
            }
        } catch {
            preconditionFailure("a loaded model.json fails to save, load again or make its layers: \(error)")
        }
    }
    return 0
}

@_silgen_name("LLVMFuzzerMutate")
func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// Structure-aware mutations (Tests/LoadCheck/Mutator.swift: the header's numbers, names, dtypes, offsets, the
/// length field, NaN payloads, model.json fields and nesting), with libFuzzer's byte-level ones a quarter of the time.
/// Foundation's JSON is not in the picture: the parsers fuzzed here are instrumented Swift.
@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzCustomMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var rng = SplitMix64(state: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15)
    if rng.chance(0.25) { return LLVMFuzzerMutate(data, size, maxSize) }
    let out = Mutator.mutate(Data(bytes: data, count: size), &rng)
    guard out.count <= maxSize else { return LLVMFuzzerMutate(data, size, maxSize) }
    out.copyBytes(to: data, count: out.count)
    return out.count
}
