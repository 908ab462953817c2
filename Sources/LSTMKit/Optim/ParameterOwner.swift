import Foundation

/// Anything with flat parameter buffers an optimizer can update (layers, models, the `LSTM` core).
public protocol ParameterOwner: AnyObject {
    var parameterBuffers: [ParameterBuffer] { get }
}

extension LSTM: ParameterOwner {
    public var parameterBuffers: [ParameterBuffer] { [ParameterBuffer(parameters: flatParameters, gradients: flatGradients)] }
}
