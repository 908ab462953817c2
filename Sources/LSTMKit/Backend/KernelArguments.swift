/// The arguments of one launch, in the kernel's order, held inline (a launch allocates nothing): built with
/// `append`, read by index by the OpenCL launch and the CPU twins.
struct KernelArguments {
    static let capacity = 30
    private var storage: (KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue,
                          KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue,
                          KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue,
                          KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue, KernelValue,
                          KernelValue, KernelValue)
        = (.none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none,
           .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none, .none,
           .none, .none)
    private(set) var count = 0

    init() {}
    mutating func append(_ value: KernelValue) {
        precondition(count < Self.capacity, "KernelArguments: more than \(Self.capacity) arguments")
        withUnsafeMutablePointer(to: &storage) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: KernelValue.self)[count] = value }
        count += 1
    }

    subscript(i: Int) -> KernelValue {
        withUnsafePointer(to: storage) { UnsafeRawPointer($0).assumingMemoryBound(to: KernelValue.self)[i] }
    }
    func int(_ i: Int) -> Int { if case let .int(v) = self[i] { return v }; preconditionFailure("argument \(i) is not an int") }
    func uint(_ i: Int) -> UInt32 { if case let .uint(v) = self[i] { return v }; preconditionFailure("argument \(i) is not a uint") }
    func float(_ i: Int) -> Double { if case let .float(v) = self[i] { return v }; preconditionFailure("argument \(i) is not a float") }
    func view(_ i: Int) -> BufferView {
        switch self[i] {
        case let .view(v): return v
        case let .mem(b): return BufferView(b)
        default: preconditionFailure("argument \(i) is not a buffer")
        }
    }
    func buffer(_ i: Int) -> DeviceBuffer { view(i).buffer }
}
