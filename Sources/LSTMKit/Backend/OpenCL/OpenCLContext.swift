import COpenCL
import Foundation
import LSTMKitKernels
import Synchronization

/// One OpenCL platform/device as found on this machine.
public struct OpenCLDeviceInfo: Sendable, CustomStringConvertible {
    public let platformIndex: Int
    public let deviceIndex: Int
    public let platformName: String
    public let deviceName: String
    public let isGPU: Bool
    /// CL_DEVICE_TYPE_ACCELERATOR (e.g. an FPGA or a dedicated accelerator card).
    public var isAccelerator: Bool = false
    public let computeUnits: Int
    public let globalMemoryBytes: Int
    /// CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT (0: unknown). PoCL 3.1 reports 16 on the AVX-512 EPYC here; an AVX2
    /// target is expected to report 8 (not measured here). The CPU-device NN gemm block follows it
    /// (`OpenCLTuning.forDevice`, docs/decisions/0028-pocl-forward.md).
    public var preferredFloatVectorWidth: Int = 0
    public var description: String {
        "opencl:\(platformIndex):\(deviceIndex)  \(deviceName) [\(platformName)] \(isGPU ? "GPU" : "CPU/other"), " +
            "\(computeUnits) compute units, \(globalMemoryBytes >> 20) MiB"
    }
}

/// Enumerates OpenCL platforms and devices.
enum OpenCLDiscovery {
    static func platforms() throws -> [cl_platform_id?] {
        var n: cl_uint = 0
        try clCheck(clGetPlatformIDs(0, nil, &n), "clGetPlatformIDs")
        if n == 0 { throw OpenCLError.noPlatform }
        var ids = [cl_platform_id?](repeating: nil, count: Int(n))
        try clCheck(clGetPlatformIDs(n, &ids, nil), "clGetPlatformIDs")
        return ids
    }

    static func devices(_ platform: cl_platform_id?) throws -> [cl_device_id?] {
        var n: cl_uint = 0
        let status = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
        if status == CL_DEVICE_NOT_FOUND { return [] }
        try clCheck(status, "clGetDeviceIDs")
        var ids = [cl_device_id?](repeating: nil, count: Int(n))
        try clCheck(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
        return ids
    }

    static func platformString(_ p: cl_platform_id?, _ param: Int32) -> String {
        var size = 0
        guard clGetPlatformInfo(p, cl_platform_info(param), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size)
        clGetPlatformInfo(p, cl_platform_info(param), size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func deviceString(_ d: cl_device_id?, _ param: Int32) -> String {
        var size = 0
        guard clGetDeviceInfo(d, cl_device_info(param), 0, nil, &size) == CL_SUCCESS, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size)
        clGetDeviceInfo(d, cl_device_info(param), size, &bytes, nil)
        return String(decoding: bytes.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func deviceValue<T: FixedWidthInteger>(_ d: cl_device_id?, _ param: Int32, _: T.Type) -> T {
        var value: T = 0
        clGetDeviceInfo(d, cl_device_info(param), MemoryLayout<T>.size, &value, nil)
        return value
    }

    /// Every device of every platform; throws `.noPlatform` when no ICD is installed.
    static func list() throws -> [OpenCLDeviceInfo] {
        var result: [OpenCLDeviceInfo] = []
        for (pi, p) in try platforms().enumerated() {
            let pname = platformString(p, CL_PLATFORM_NAME)
            for (di, d) in try devices(p).enumerated() {
                let type = deviceValue(d, CL_DEVICE_TYPE, cl_device_type.self)
                result.append(OpenCLDeviceInfo(
                    platformIndex: pi, deviceIndex: di, platformName: pname,
                    deviceName: deviceString(d, CL_DEVICE_NAME),
                    isGPU: type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0,
                    isAccelerator: type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0,
                    computeUnits: Int(deviceValue(d, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint.self)),
                    globalMemoryBytes: Int(deviceValue(d, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self)),
                    preferredFloatVectorWidth: Int(deviceValue(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, cl_uint.self))))
            }
        }
        return result
    }
}

/// One argument of a kernel launch.
enum KernelArg {
    case int(Int)
    case uint(UInt32)
    case float(Double)
    case mem(cl_mem?)
}

/// An OpenCL context on one device: the in-order queue and the cache of compiled programs.
/// One context per device for the process (see `Device.opencl`), so programs are built once.
final class OpenCLContext: @unchecked Sendable {
    let info: OpenCLDeviceInfo
    let device: cl_device_id?
    let context: cl_context
    /// The in-order queue. Replaced (after a finish) when profiling is switched on or off.
    private(set) var queue: cl_command_queue

    private let lock = NSLock()
    private let launchLock = NSLock()
    private var programs: [String: cl_program] = [:]
    private var kernels: [String: cl_kernel] = [:]
    /// Kernel object -> kernel name, for profiling labels.
    private var kernelNames: [OpaquePointer: String] = [:]
    /// Opt-in profiling (lstm-bench): when on, the queue has CL_QUEUE_PROFILING_ENABLE and every launch and
    /// copy keeps its event under a label. When off (the default) a launch only tests this flag.
    private(set) var profiling = false
    private var events: [(label: String, event: cl_event)] = []
    /// How many times `clBuildProgram` ran on this context (the cache test reads it).
    private(set) var buildCount = 0

    /// The device's limits that every buffer is checked against before `clCreateBuffer` (see `reserve`).
    let maxAllocBytes: Int, globalMemoryBytes: Int
    /// CL_DEVICE_HOST_UNIFIED_MEMORY: the buffers are host memory of this process (PoCL's CPU device), which the
    /// runtime mallocs when a buffer is first used, and PoCL asserts when that malloc fails.
    let hostUnified: Bool
    /// Bytes of this context's live buffers (a `CLBuffer` adds its bytes when created, subtracts them in deinit).
    let liveBytes = Atomic<Int>(0)
    /// How errors name the device: "opencl:P:D (name)".
    var label: String { "opencl:\(info.platformIndex):\(info.deviceIndex) (\(info.deviceName))" }

    init(platformIndex: Int, deviceIndex: Int) throws {
        let platforms = try OpenCLDiscovery.platforms()
        guard platforms.indices.contains(platformIndex) else {
            throw LSTMKitError.unknownDevice("opencl:\(platformIndex):\(deviceIndex) (there are \(platforms.count) platforms)")
        }
        let devices = try OpenCLDiscovery.devices(platforms[platformIndex])
        guard devices.indices.contains(deviceIndex) else {
            throw LSTMKitError.unknownDevice("opencl:\(platformIndex):\(deviceIndex) (platform \(platformIndex) has \(devices.count) devices)")
        }
        info = try OpenCLDiscovery.list().first { $0.platformIndex == platformIndex && $0.deviceIndex == deviceIndex }!
        device = devices[deviceIndex]
        maxAllocBytes = Int(clamping: OpenCLDiscovery.deviceValue(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong.self))
        globalMemoryBytes = Int(clamping: OpenCLDiscovery.deviceValue(device, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self))
        hostUnified = OpenCLDiscovery.deviceValue(device, CL_DEVICE_HOST_UNIFIED_MEMORY, cl_bool.self) != 0
        var err: cl_int = 0
        var dev = device
        guard let ctx = clCreateContext(nil, 1, &dev, nil, nil, &err) else {
            try clCheck(err, "clCreateContext"); throw OpenCLError.call(function: "clCreateContext", status: err, name: clErrorName(err))
        }
        try clCheck(err, "clCreateContext")
        context = ctx
        guard let q = clCreateCommandQueue(ctx, device, 0, &err) else {
            clReleaseContext(ctx)
            throw OpenCLError.call(function: "clCreateCommandQueue", status: err, name: clErrorName(err))
        }
        queue = q
    }

    deinit {
        for e in events { clReleaseEvent(e.event) }
        for k in kernels.values { clReleaseKernel(k) }
        for p in programs.values { clReleaseProgram(p) }
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Source of a kernel file: LSTMKIT_KERNEL_DIR/<file> when that variable is set, else the embedded copy.
    static func source(of file: String) throws -> String {
        if let dir = Settings.text("LSTMKIT_KERNEL_DIR"),
           let text = try? String(contentsOfFile: dir + "/" + file, encoding: .utf8) {
            return text
        }
        guard let embedded = lstmkit_kernel_source(file) else { throw OpenCLError.missingKernelSource(file) }
        return String(cString: embedded)
    }

    /// The prelude of every program (Kernels/common.cl: the `real` type, the exp switch, sigmoid/tanh, vector widths).
    static let preludeFile = "common.cl"

    /// What the device compiles for `file`: the prelude, then the file (its line numbers kept with `#line`).
    static func programSource(of file: String) throws -> String {
        if file == preludeFile { return try source(of: file) }
        return try source(of: preludeFile) + "\n#line 1 \"\(file)\"\n" + source(of: file)
    }

    /// The compiled program for `file` with `defines` (name -> value), built on first use and cached.
    func program(file: String, defines: [String: String]) throws -> cl_program {
        let options = (["-cl-std=CL1.2", "-w"] + defines.keys.sorted().map { "-D\($0)=\(defines[$0]!)" }).joined(separator: " ")
        let key = file + "|" + options
        lock.lock(); defer { lock.unlock() }
        if let p = programs[key] { return p }
        return try build(file: file, source: try Self.programSource(of: file), options: options, key: key)
    }

    /// Builds a program from source text; on failure throws `.build` with the build log.
    private func build(file: String, source: String, options: String, key: String) throws -> cl_program {
        var err: cl_int = 0
        let program: cl_program? = source.withCString { cstr in
            var ptr: UnsafePointer<CChar>? = cstr
            var length = strlen(cstr)
            return clCreateProgramWithSource(context, 1, &ptr, &length, &err)
        }
        try clCheck(err, "clCreateProgramWithSource(\(file))")
        guard let program else { throw OpenCLError.call(function: "clCreateProgramWithSource", status: err, name: clErrorName(err)) }
        var dev = device
        if buildCount == 0 {  // one notice per device: the first kernels take seconds to compile (PoCL: its compiler)
            FileHandle.standardError.write(Data("lstmkit: compiling OpenCL kernels for \(label) on first use...\n".utf8))
        }
        buildCount += 1
        let status = clBuildProgram(program, 1, &dev, options, nil, nil)
        if status != CL_SUCCESS {
            var size = 0
            clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
            var log = [CChar](repeating: 0, count: max(size, 1))
            clGetProgramBuildInfo(program, device, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &log, nil)
            clReleaseProgram(program)
            let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw OpenCLError.build(file: file, options: options, log: text)
        }
        programs[key] = program
        return program
    }

    /// Test hook: builds arbitrary source (e.g. a broken kernel) so build-failure reporting can be checked.
    func buildForTesting(source: String, file: String) throws {
        lock.lock(); defer { lock.unlock() }
        let p = try build(file: file, source: source, options: "-cl-std=CL1.2 -w", key: "test|\(file)|\(buildCount)")
        programs.removeValue(forKey: "test|\(file)|\(buildCount - 1)")
        clReleaseProgram(p)
    }

    /// The kernel `name` of the program for `file` + `defines`, cached with it.
    func kernel(_ name: String, file: String, defines: [String: String] = [:]) throws -> cl_kernel {
        let program = try self.program(file: file, defines: defines)
        let key = "\(name)|\(file)|\(defines.keys.sorted().map { "\($0)=\(defines[$0]!)" })"
        lock.lock(); defer { lock.unlock() }
        if let k = kernels[key] { return k }
        var err: cl_int = 0
        let k = clCreateKernel(program, name, &err)
        try clCheck(err, "clCreateKernel(\(name))")
        guard let k else { throw OpenCLError.call(function: "clCreateKernel(\(name))", status: err, name: clErrorName(err)) }
        kernels[key] = k
        kernelNames[k] = name
        return k
    }

    /// Sets the arguments and enqueues the kernel. `global` is rounded up to a multiple of `local`.
    /// Arguments are captured at enqueue time, so the cached kernel object can be reused at once.
    /// `label` names the launch in profiles (default: the kernel's name).
    func launch(_ kernel: cl_kernel, _ args: [KernelArg], global: [Int], local: [Int]? = nil, label: String? = nil) throws {
        launchLock.lock(); defer { launchLock.unlock() }  // clSetKernelArg on a shared kernel is not thread-safe
        for (i, arg) in args.enumerated() {
            let status: cl_int
            switch arg {
            case let .int(v): var x = cl_int(truncatingIfNeeded: v); status = clSetKernelArg(kernel, cl_uint(i), 4, &x)
            case let .uint(v): var x = cl_uint(v); status = clSetKernelArg(kernel, cl_uint(i), 4, &x)
            case let .float(v): var x = cl_float(v); status = clSetKernelArg(kernel, cl_uint(i), 4, &x)
            case let .mem(m): var x = m; status = clSetKernelArg(kernel, cl_uint(i), MemoryLayout<cl_mem?>.size, &x)
            }
            try clCheck(status, "clSetKernelArg(\(i))")
        }
        if global.contains(0) { return }
        var g = global
        var event: cl_event? = nil
        let status: cl_int
        if var l = local {
            for d in g.indices { g[d] = (g[d] + l[d] - 1) / l[d] * l[d] }
            status = profiling ? clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, &g, &l, 0, nil, &event)
                               : clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, &g, &l, 0, nil, nil)
        } else {
            status = profiling ? clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, &g, nil, 0, nil, &event)
                               : clEnqueueNDRangeKernel(queue, kernel, cl_uint(g.count), nil, &g, nil, 0, nil, nil)
        }
        try clCheck(status, "clEnqueueNDRangeKernel")
        if let event { events.append((label ?? kernelNames[kernel] ?? "?", event)) }
    }

    /// `launch` for a `Kernel` of the table: the arguments from `KernelArguments` in order (a view is its buffer, then
    /// its offset), the global size of `dims` dimensions (and the work-group size, or nil), nothing allocated.
    func launch(_ kernel: cl_kernel, _ args: KernelArguments, global: (Int, Int, Int), local: (Int, Int, Int)? = nil, dims: Int,
                label: String) throws {
        launchLock.lock(); defer { launchLock.unlock() }  // clSetKernelArg on a shared kernel is not thread-safe
        var index: cl_uint = 0
        func set<T>(_ value: T) throws {
            var x = value
            try clCheck(clSetKernelArg(kernel, index, MemoryLayout<T>.size, &x), "clSetKernelArg(\(index))")
            index += 1
        }
        for i in 0..<args.count {
            switch args[i] {
            case let .int(v): try set(cl_int(truncatingIfNeeded: v))
            case let .uint(v): try set(cl_uint(v))
            case let .float(v): try set(cl_float(v))
            case let .view(v): try set(Optional((v.buffer as! CLBuffer).mem)); try set(cl_int(truncatingIfNeeded: v.offset))
            case let .mem(b): try set(Optional((b as! CLBuffer).mem))
            case .none: preconditionFailure("launch \(label): argument \(i) is unset")
            }
        }
        if global.0 == 0 || global.1 == 0 || global.2 == 0 { return }
        var g = global, l = local ?? (1, 1, 1)
        if local != nil { g = ((g.0 + l.0 - 1) / l.0 * l.0, (g.1 + l.1 - 1) / l.1 * l.1, (g.2 + l.2 - 1) / l.2 * l.2) }
        var event: cl_event? = nil
        let status = withUnsafePointer(to: &g) { p in
            p.withMemoryRebound(to: Int.self, capacity: 3) { gp in
                withUnsafePointer(to: &l) { q in
                    q.withMemoryRebound(to: Int.self, capacity: 3) { lp in
                        let lp = local == nil ? nil : lp
                        return profiling ? clEnqueueNDRangeKernel(queue, kernel, cl_uint(dims), nil, gp, lp, 0, nil, &event)
                                         : clEnqueueNDRangeKernel(queue, kernel, cl_uint(dims), nil, gp, lp, 0, nil, nil)
                    }
                }
            }
        }
        try clCheck(status, "clEnqueueNDRangeKernel")
        if let event { events.append((label, event)) }
    }

    /// Enqueues a buffer copy (profiled as "copy").
    func copy(_ src: cl_mem, _ srcOffset: Int, to dst: cl_mem, _ dstOffset: Int, bytes: Int) throws {
        launchLock.lock(); defer { launchLock.unlock() }
        var event: cl_event? = nil
        let status = profiling ? clEnqueueCopyBuffer(queue, src, dst, srcOffset, dstOffset, bytes, 0, nil, &event)
                               : clEnqueueCopyBuffer(queue, src, dst, srcOffset, dstOffset, bytes, 0, nil, nil)
        try clCheck(status, "clEnqueueCopyBuffer")
        if let event { events.append(("copy", event)) }
    }

    /// Switches profiling on or off: waits for the queue, then replaces it with one created with (or without)
    /// CL_QUEUE_PROFILING_ENABLE. Buffers belong to the context, so they stay valid. Drops collected events.
    func setProfiling(_ enabled: Bool) throws {
        launchLock.lock(); defer { launchLock.unlock() }
        if enabled == profiling { return }
        try clCheck(clFinish(queue), "clFinish")
        var err: cl_int = 0
        let properties = enabled ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let q = clCreateCommandQueue(context, device, properties, &err) else {
            throw OpenCLError.call(function: "clCreateCommandQueue", status: err, name: clErrorName(err))
        }
        try clCheck(err, "clCreateCommandQueue")
        clReleaseCommandQueue(queue)
        queue = q
        profiling = enabled
        for e in events { clReleaseEvent(e.event) }
        events.removeAll()
    }

    /// Waits for the queue, then returns the device time of every launch and copy since the last call (or since
    /// profiling was switched on), summed per label, and forgets them.
    func takeProfile() throws -> [(label: String, launches: Int, seconds: Double)] {
        launchLock.lock(); defer { launchLock.unlock() }
        try clCheck(clFinish(queue), "clFinish")
        var sums: [String: (Int, UInt64)] = [:]
        for (label, event) in events {
            var start: cl_ulong = 0, end: cl_ulong = 0
            try clCheck(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil),
                        "clGetEventProfilingInfo")
            try clCheck(clGetEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil),
                        "clGetEventProfilingInfo")
            let s = sums[label] ?? (0, 0)
            sums[label] = (s.0 + 1, s.1 + (end > start ? end - start : 0))
            clReleaseEvent(event)
        }
        events.removeAll()
        return sums.map { ($0.key, $0.value.0, Double($0.value.1) * 1e-9) }.sorted { $0.seconds > $1.seconds }
    }

    // MARK: Memory

    /// Accounts `bytes` of a new buffer, or throws `LSTMKitError.outOfMemory` (and accounts nothing) when the
    /// request exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE, when the live buffers plus this one exceed
    /// CL_DEVICE_GLOBAL_MEM_SIZE, or, on a device whose buffers are host memory, when the host cannot give that
    /// much now. Checked before `clCreateBuffer`, so that no request reaches PoCL's failed-malloc assertion
    /// (pocl_util.c: `p->mem_ptr != NULL`), which PoCL hits when it allocates a buffer at its first use.
    ///
    /// Returns true when the buffer must be allocated at once (`materialize`): when the host's mappings can fail
    /// (an address-space or data limit, strict overcommit; `Memory.mappingsCanFail`), this request has just been
    /// mapped for a test, and the runtime must take that memory before anything else does. Otherwise a mapping
    /// fails only when it alone exceeds RAM + swap, which the checks here rule out, and the runtime's
    /// allocation at first use stays as it was (no extra command per buffer).
    func reserve(_ bytes: Int) throws -> Bool {
        if bytes > maxAllocBytes {
            throw LSTMKitError.outOfMemory(bytes: bytes, device: label,
                                           reason: "one buffer may hold at most \(maxAllocBytes) bytes (CL_DEVICE_MAX_MEM_ALLOC_SIZE)")
        }
        let live = liveBytes.wrappingAdd(bytes, ordering: .relaxed).newValue
        if live < 0 || live > globalMemoryBytes {
            liveBytes.wrappingSubtract(bytes, ordering: .relaxed)
            throw LSTMKitError.outOfMemory(bytes: bytes, device: label,
                                           reason: "\(live &- bytes) bytes are held by live buffers, and the device has \(globalMemoryBytes) (CL_DEVICE_GLOBAL_MEM_SIZE)")
        }
        guard hostUnified else { return false }
        // Host memory: held to the host's limits together with the CPU's buffers.
        do { try Memory.reserveHost(bytes, device: label) } catch {
            liveBytes.wrappingSubtract(bytes, ordering: .relaxed)
            throw error
        }
        guard Memory.mappingsCanFail() else { return false }
        // PoCL mallocs the buffer (plus its alignment): make sure that much maps now.
        if !Memory.canMap(bytes + (1 << 20)) {
            release(bytes)
            throw LSTMKitError.outOfMemory(bytes: bytes, device: label,
                                           reason: "the host cannot map that much more memory now (address-space or data limit, or strict overcommit)")
        }
        return true
    }

    /// Gives back what `reserve` accounted.
    func release(_ bytes: Int) {
        liveBytes.wrappingSubtract(bytes, ordering: .relaxed)
        if hostUnified { Memory.releaseHost(bytes) }
    }

    /// Makes the runtime allocate `mem` now, while `reserve`'s check still holds, rather than at its first use
    /// (a migration with undefined contents: no copy). Returns the status of the enqueue.
    func materialize(_ mem: cl_mem) -> cl_int {
        launchLock.lock(); defer { launchLock.unlock() }
        var m: cl_mem? = mem
        return clEnqueueMigrateMemObjects(queue, 1, &m, cl_mem_migration_flags(CL_MIGRATE_MEM_OBJECT_CONTENT_UNDEFINED), 0, nil, nil)
    }

    /// CL_PLATFORM_VERSION of this device's platform (e.g. "OpenCL 3.0 PoCL 3.1+debian ...").
    var platformVersion: String {
        var platform: cl_platform_id? = nil
        clGetDeviceInfo(device, cl_device_info(CL_DEVICE_PLATFORM), MemoryLayout<cl_platform_id?>.size, &platform, nil)
        return OpenCLDiscovery.platformString(platform, CL_PLATFORM_VERSION)
    }

    func finish() throws { try clCheck(clFinish(queue), "clFinish") }
}
