/// model.json range checks of the image-sequence layers and of `InputLayer` and `Masking`: each follows the per-sample
/// shape as `build` will (a frame is `[H, W, C]`), before anything is allocated. Errors name the layer and field.
extension ConfigCheck {
    /// A `[height, width]` pair of values in 1...maxDimension.
    func pair(_ values: [Int], _ name: String) throws -> (Int, Int) {
        guard values.count == 2 else { throw field(name, values, "must have 2 values (height, width)") }
        return (try dimension(values[0], "\(name)[0]"), try dimension(values[1], "\(name)[1]"))
    }

    /// The output `[OH, OW]` of a window over a `[H, W, C]` frame, or an error naming the layer when none is left.
    func window(_ frame: [Int], kernel: (Int, Int), strides: (Int, Int), dilation: (Int, Int) = (1, 1), padding: Padding,
                _ what: String) throws -> (Int, Int) {
        try requireRank(frame, 3, "a frame [H, W, C]")
        guard let h = padding.resolve(input: frame[0], kernel: kernel.0, stride: strides.0, dilation: dilation.0),
              let w = padding.resolve(input: frame[1], kernel: kernel.1, stride: strides.1, dilation: dilation.1) else {
            throw layer("the \(what) \(kernel) leaves no output of a frame \(frame)")
        }
        return (h.output, w.output)
    }
}

extension Conv2D.Config: CheckedLayerConfig {
    /// `[H, W, C]` to `[OH, OW, filters]`; parameters weight `[filters, C, KH, KW]` and bias `[filters]`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        let f = try check.dimension(filters, "filters")
        let k = try check.pair(kernelSize, "kernel_size"), s = try check.pair(strides, "strides"), d = try check.pair(dilationRate, "dilation_rate")
        let (oh, ow) = try check.window(inputShape, kernel: k, strides: s, dilation: d, padding: padding, "kernel")
        try check.addParameters([[f, inputShape[2], k.0, k.1]] + (useBias ? [[f]] : []))
        return [oh, ow, f]
    }
}

extension Pooling2DConfig: CheckedLayerConfig {
    /// MaxPooling2D and AveragePooling2D: `[H, W, C]` to `[OH, OW, C]`; no parameters.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        let (oh, ow) = try check.window(inputShape, kernel: try check.pair(poolSize, "pool_size"), strides: try check.pair(strides, "strides"),
                                        padding: padding, "pool")
        return [oh, ow, inputShape[2]]
    }
}

extension GlobalAveragePooling2D.Config: CheckedLayerConfig {
    /// `[H, W, C]` to `[C]`.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        try check.requireRank(inputShape, 3, "a frame [H, W, C]")
        return [inputShape[2]]
    }
}

extension Flatten.Config: CheckedLayerConfig {
    /// Any shape to one dimension of the same size (already checked against the sample-size cap).
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard let n = Memory.product(inputShape) else { throw check.layer("the flattened size of \(inputShape) overflows") }
        return [try check.dimension(n, "flattened size")]
    }
}

extension Input.Config: CheckedLayerConfig {
    /// The model's input shape, which `shape` must equal.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard shape == inputShape else { throw check.field("shape", shape, "must equal the model's input shape \(inputShape)") }
        return inputShape
    }
}

extension Masking.Config: CheckedLayerConfig {
    /// The shape is unchanged; no parameters.
    public func check(inputShape: [Int], in check: inout ConfigCheck) throws -> [Int] {
        guard maskValue.isFinite else { throw check.field("mask_value", maskValue, "must be finite") }
        return inputShape
    }
}
