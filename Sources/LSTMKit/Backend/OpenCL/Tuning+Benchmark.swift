import Foundation

extension Device {
    /// A new device on `base`'s OpenCL context (same queue, same program cache) whose backend is tuned with the
    /// defaults, the stored entry, the LSTMKIT_* variables and then `overrides` (which win). Not registered: the
    /// registered device of that context keeps its own tuning. Throws `TuningStoreError.invalidValue` for a value
    /// the kernels do not accept, instead of ignoring it.
    static func openCL(sharing base: Device, tuningOverrides overrides: [String: String]) throws -> Device {
        guard let context = base.openCL else {
            throw LSTMKitError.invalidArgument(name: "device", value: base.description, reason: "not an OpenCL device")
        }
        var tuning = OpenCLTuning.forDevice(context.info)
        if let problem = tuning.apply(overrides, source: "tuning overrides").first { throw problem }
        return Device(backend: OpenCLBackend(context: context, tuning: tuning),
                      description: base.description + " tuned", openCL: context)
    }
}

/// Hooks for `lstm-bench --autotune` (Benchmarks/lstm-bench/Autotune.swift): devices with candidate tuning values
/// in one process, and the tuning store (`TuningStore`). Values use the names of `OpenCLTuning.overrideNames`
/// ("GEMM_NN", "CELL_VW", ...) and the text of the LSTMKIT_* variables ("8x16/16/16", "16").
@_spi(Benchmark) extension BenchmarkHooks {
    /// A new device on OpenCL device `device` of `platform` whose backend uses the defaults, the stored entry, the
    /// LSTMKIT_* variables and then `tuningOverrides`. It shares the context (and compiled programs) of
    /// `Device.opencl(platform:device:)`, but builds its own kernels. Throws for an invalid value.
    public static func openCLDevice(platform: Int = 0, device: Int = 0, tuningOverrides: [String: String]) throws -> Device {
        try Device.openCL(sharing: Device.opencl(platform: platform, device: device), tuningOverrides: tuningOverrides)
    }

    /// A new device like `base` (an OpenCL device) with `tuningOverrides` on top of its tuning sources.
    public static func openCLDevice(like base: Device, tuningOverrides: [String: String]) throws -> Device {
        try Device.openCL(sharing: base, tuningOverrides: tuningOverrides)
    }

    /// The names of the tuning values, in the order lstm-bench prints them.
    public static var tuningNames: [String] { OpenCLTuning.overrideNames }

    /// The device-type defaults of an OpenCL device as tuning values (no store, no environment); empty on the CPU.
    public static func defaultTuning(of device: Device) -> [String: String] {
        guard let context = device.openCL else { return [:] }
        return OpenCLTuning.forDevice(context.info, store: nil, environment: [:]).overrideValues
    }

    /// The tuning values the device's backend uses (defaults, store, environment, overrides); empty on the CPU.
    public static func tuningValues(of device: Device) -> [String: String] {
        device.backend.openCLTuning?.overrideValues ?? [:]
    }

    /// The tuning store's file (LSTMKIT_TUNING_FILE, else $XDG_CACHE_HOME/lstmkit/tuning.json, else
    /// ~/.cache/lstmkit/tuning.json).
    public static var tuningStorePath: String { TuningStore.standard.path }

    /// The store key of an OpenCL device: "<device name> [<platform version>]"; nil on the CPU.
    public static func tuningKey(of device: Device) -> String? {
        device.openCL.map { TuningStore.deviceKey($0.info) }
    }

    /// The stored entry of the device, nil when there is none (or the store cannot be read: that is reported).
    public static func storedTuning(of device: Device) -> [String: String]? {
        guard let key = tuningKey(of: device) else { return nil }
        do { return try TuningStore.standard.load()[key] } catch {
            TuningWarnings.warn("\(error); ignoring it")
            return nil
        }
    }

    /// Stores `values` as the device's entry (replacing its previous one, keeping other devices'), atomically.
    /// Returns the store's path. Throws for an invalid value, a corrupt store or a failed write.
    @discardableResult
    public static func storeTuning(_ values: [String: String], for device: Device) throws -> String {
        guard let key = tuningKey(of: device) else {
            throw LSTMKitError.invalidArgument(name: "device", value: device.description, reason: "not an OpenCL device")
        }
        let store = TuningStore.standard
        try store.save(values, for: key)
        return store.path
    }
}
