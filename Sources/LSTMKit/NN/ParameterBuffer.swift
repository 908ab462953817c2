/// One flat parameter buffer and its gradient buffer (same layout): what an optimizer updates with one kernel.
public struct ParameterBuffer {
    public let parameters: Tensor
    public let gradients: Tensor
    /// `parameters` and `gradients` must have the same count, on the same device (custom layers make their own).
    public init(parameters: Tensor, gradients: Tensor) {
        self.parameters = parameters
        self.gradients = gradients
    }
}
