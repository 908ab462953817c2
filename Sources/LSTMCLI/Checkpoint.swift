import Foundation
import LSTMKit
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
private let systemRename = Glibc.rename
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
private let systemRename = Darwin.rename
#endif

/// Crash-consistent checkpoints of a run directory: one epoch's state is one transaction.
///
/// Layout of `RUN/` (the `--out` of `lstm train`):
///
///     RUN/ckpt-000012/            a generation: the complete state after one epoch
///         model.json model.safetensors optimizer.safetensors   (Sequential.save: architecture, weights, Adam's state)
///         run.json history.json vocab.json|normalization.json  (the CLI's side of the state)
///         manifest.json                                        (written last: each file's size and CRC-32)
///     RUN/checkpoint              the name of the newest committed generation (for people and library users:
///                                 `Sequential.load(from: RUN/ckpt-000012)`); the loader does not need it
///     RUN/history.csv loss.svg metrics.svg (*.png)   derived copies for people, rewritten after each commit;
///                                                    the loader never reads them
///
/// Commit protocol (`CheckpointStore.commit`), each step numbered as in `CheckpointStep`:
///  1. `mkdir RUN/ckpt-N.tmp`, N = 1 + the highest generation present (a leftover `ckpt-N.tmp` is removed first);
///  2. every file is written into it and fsync'ed;
///  3. `manifest.json` (format, generation, epoch, every file's size and CRC-32) is written last and fsync'ed,
///     then the directory itself is fsync'ed;
///  4. `rename(ckpt-N.tmp, ckpt-N)` and fsync of RUN: **the commit point**. Before it, the previous generation is the
///     run's state; after it, generation N is;
///  5. `RUN/checkpoint.tmp` is written, fsync'ed and renamed over `RUN/checkpoint`; fsync of RUN;
///  6. generations older than N-1 are removed (all but N after the first commit of `--overwrite`), and so are the
///     top-level state files of the old, pre-transaction layout. One previous generation is kept, so that a reader
///     that picked it while the trainer commits the next one still finds its files;
///  7. the derived files are rewritten (each to a temporary name, then renamed).
///
/// Loading (`CheckpointStore.latest`): first the stale temporaries are removed (`*.tmp`, `.*.lstm-tmp`, Foundation's
/// `.nosync` files), unless a live `lstm train` holds the run's lock (an exclusive `flock` on the directory, released
/// by the kernel when the process dies, kill -9 included); then the highest generation whose manifest verifies (every
/// listed file present with its size and CRC-32, the required files listed) is the state. A torn or damaged generation
/// falls back to the one before. A directory without generations but with a top-level `run.json` and `model.json` is
/// a run of the old layout, read as it is; its first commit moves it to the new one.
enum CheckpointStore {
    static let manifestName = "manifest.json"
    static let pointerName = "checkpoint"
    /// The files every generation holds (besides the task's vocab.json or normalization.json).
    static let requiredFiles = ["model.json", "model.safetensors", "optimizer.safetensors", "run.json", "history.json"]
    /// The state files of the old layout (everything at the top level).
    static let legacyStateFiles = ["model.json", "model.safetensors", "optimizer.safetensors", "run.json", "history.json",
                                   "vocab.json", "normalization.json"]

    struct Manifest: Codable, Equatable {
        struct File: Codable, Equatable {
            var size: Int
            var crc32: UInt32
        }
        var format = "lstm-cli.checkpoint"
        var version = 1
        var generation: Int
        var epochsTrained: Int
        var files: [String: File]
    }

    /// A verified generation (or the old layout): where its files are and their bytes.
    struct Snapshot {
        var directory: URL
        /// nil for a run of the old layout.
        var generation: Int?
        var files: [String: Data]
        /// Generations that were skipped because they did not verify, with the reason.
        var skipped: [(name: String, reason: String)] = []
    }

    static func generationName(_ n: Int) -> String { String(format: "ckpt-%06d", n) }

    /// The number of a committed generation's directory name ("ckpt-000012" -> 12), nil for anything else.
    static func generationNumber(_ name: String) -> Int? {
        guard name.hasPrefix("ckpt-"), name.count == 11 else { return nil }
        let digits = name.dropFirst(5)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func entries(_ dir: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
    }

    /// Committed generations, newest first.
    static func generations(in dir: URL) -> [Int] {
        entries(dir).compactMap(generationNumber).sorted(by: >)
    }

    /// Whether `name` (an entry of a run directory) is a temporary that only a live writer may still need.
    static func isTemporary(_ name: String) -> Bool {
        name.hasSuffix(".tmp") || name.hasSuffix(".lstm-tmp") || name.contains(".nosync")
    }

    /// Removes stale temporaries (see the type's comment). Skipped while a trainer holds the lock, unless
    /// `lockHeld` says that this process is that trainer. Returns the names removed.
    @discardableResult
    static func removeStaleTemporaries(in dir: URL, lockHeld: Bool = false) -> [String] {
        guard lockHeld || !RunLock.isHeldByAnother(dir) else { return [] }
        var removed: [String] = []
        for name in entries(dir) where isTemporary(name) {
            if (try? FileManager.default.removeItem(at: dir.appendingPathComponent(name))) != nil { removed.append(name) }
        }
        return removed
    }

    /// Checks one generation against its manifest; returns its files' bytes.
    static func verify(_ dir: URL, required: [String]) throws -> (Manifest, [String: Data]) {
        let name = dir.lastPathComponent
        guard let manifestData = FileManager.default.contents(atPath: dir.appendingPathComponent(manifestName).path) else {
            throw CLIError("\(name)/\(manifestName) is missing")
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: manifestData) } catch {
            throw CLIError("\(name)/\(manifestName) is damaged")
        }
        guard manifest.format == "lstm-cli.checkpoint", manifest.version == 1 else {
            throw CLIError("\(name)/\(manifestName) is not an lstm checkpoint manifest (format \(manifest.format), version \(manifest.version))")
        }
        if let missing = required.first(where: { manifest.files[$0] == nil }) {
            throw CLIError("\(name)/\(manifestName) does not list \(missing)")
        }
        var files: [String: Data] = [:]
        for (file, entry) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard !file.contains("/"), !file.hasPrefix("."), file != manifestName else {
                throw CLIError("\(name)/\(manifestName) lists a bad file name '\(file)'")
            }
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(file).path) else {
                throw CLIError("\(name)/\(file) is missing")
            }
            guard data.count == entry.size else {
                throw CLIError("\(name)/\(file) has \(data.count) bytes, the manifest says \(entry.size)")
            }
            let crc = CRC32.checksum(data)
            guard crc == entry.crc32 else {
                throw CLIError("\(name)/\(file) has CRC-32 \(crc), the manifest says \(entry.crc32)")
            }
            files[file] = data
        }
        return (manifest, files)
    }

    /// The run's state: the newest generation that verifies, else the old layout, else nil. `required` are the
    /// files a generation must hold.
    static func latest(in dir: URL, required: [String]) -> Snapshot? {
        var skipped: [(String, String)] = []
        for n in generations(in: dir) {
            let gdir = dir.appendingPathComponent(generationName(n))
            do {
                let (manifest, files) = try verify(gdir, required: required)
                guard manifest.generation == n else { throw CLIError("\(gdir.lastPathComponent)/\(manifestName) names generation \(manifest.generation)") }
                return Snapshot(directory: gdir, generation: n, files: files, skipped: skipped)
            } catch {
                skipped.append((generationName(n), LSTMTool.describe(error)))
            }
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("run.json").path) {
            var files: [String: Data] = [:]
            for name in legacyStateFiles where name != "model.safetensors" && name != "optimizer.safetensors" {
                if let data = fm.contents(atPath: dir.appendingPathComponent(name).path) { files[name] = data }
            }
            return Snapshot(directory: dir, generation: nil, files: files, skipped: skipped)
        }
        if !skipped.isEmpty { return Snapshot(directory: dir, generation: nil, files: [:], skipped: skipped) }
        return nil
    }

    /// The steps of `commit`, for tests that stop it at each one (as a crash would).
    enum Step: Int, CaseIterable {
        case createdTemporary, wroteModelFiles, wroteSideFiles, wroteManifest, renamed, wrotePointerTemporary, wrotePointer,
             removedOld, wroteDerived
    }

    /// Test hook: called after each step of `commit`; a throw stops the commit right there, with no cleanup, as kill -9 would.
    nonisolated(unsafe) static var afterStep: ((Step) throws -> Void)? = nil

    /// Writes one generation (see the type's comment). `model` writes model.json, model.safetensors and
    /// optimizer.safetensors; `files` are the CLI's files (run.json, history.json, the task's file).
    /// `replaceAll` removes every other generation once this one is committed (the first commit of --overwrite).
    /// Returns the generation number.
    @discardableResult
    static func commit(in dir: URL, model: Sequential, files: [(name: String, data: Data)], epochsTrained: Int,
                       replaceAll: Bool, derived: () throws -> Void) throws -> Int {
        let fm = FileManager.default
        try DurableIO.makeDirectory(dir)
        let existing = generations(in: dir)
        let (next, overflow) = (existing.first ?? 0).addingReportingOverflow(1)
        guard !overflow, next <= 999_999 else { throw CLIError("\(dir.path) has too many checkpoint generations (\(existing.first ?? 0)): start a new --out") }
        let name = generationName(next)
        let tmp = dir.appendingPathComponent(name + ".tmp")
        if fm.fileExists(atPath: tmp.path) { try DurableIO.remove(tmp) }
        try DurableIO.makeDirectory(tmp)
        try afterStep?(.createdTemporary)
        do { try model.save(to: tmp) } catch let error as LSTMKitError {
            throw CLIError("cannot write the checkpoint to \(tmp.path): \(error.description)")
        }
        // save(to:) writes through Foundation; make its files durable and drop any temporary it left.
        for entry in entries(tmp) where isTemporary(entry) { try? fm.removeItem(at: tmp.appendingPathComponent(entry)) }
        for file in ["model.json", "model.safetensors", "optimizer.safetensors"] where fm.fileExists(atPath: tmp.appendingPathComponent(file).path) {
            try DurableIO.sync(tmp.appendingPathComponent(file))
        }
        try afterStep?(.wroteModelFiles)
        for (file, data) in files { try DurableIO.write(data, to: tmp.appendingPathComponent(file)) }
        try afterStep?(.wroteSideFiles)
        var manifest = Manifest(generation: next, epochsTrained: epochsTrained, files: [:])
        for file in entries(tmp) where file != manifestName {
            guard let data = fm.contents(atPath: tmp.appendingPathComponent(file).path) else {
                throw CLIError("cannot read back \(tmp.appendingPathComponent(file).path) while writing the checkpoint")
            }
            manifest.files[file] = Manifest.File(size: data.count, crc32: CRC32.checksum(data))
        }
        try DurableIO.write(try encodeJSON(manifest), to: tmp.appendingPathComponent(manifestName))
        try DurableIO.syncDirectory(tmp)
        try afterStep?(.wroteManifest)
        try DurableIO.rename(tmp, to: dir.appendingPathComponent(name))
        try DurableIO.syncDirectory(dir)
        try afterStep?(.renamed)
        let pointerTmp = dir.appendingPathComponent(pointerName + ".tmp")
        try DurableIO.write(Data((name + "\n").utf8), to: pointerTmp)
        try afterStep?(.wrotePointerTemporary)
        try DurableIO.rename(pointerTmp, to: dir.appendingPathComponent(pointerName))
        try DurableIO.syncDirectory(dir)
        try afterStep?(.wrotePointer)
        for old in generations(in: dir) where old < next && (replaceAll || old < next - 1) {
            try? fm.removeItem(at: dir.appendingPathComponent(generationName(old)))
        }
        for file in legacyStateFiles { try? fm.removeItem(at: dir.appendingPathComponent(file)) }
        try afterStep?(.removedOld)
        try derived()
        try afterStep?(.wroteDerived)
        return next
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { return try encoder.encode(value) } catch {
            throw CLIError("cannot encode \(T.self) as JSON (a value is not a finite number?): \(LSTMTool.describe(error))")
        }
    }
}

/// An exclusive `flock` on a run directory, held by `lstm train` while it writes there. The kernel drops it when
/// the process ends, however it ends.
final class RunLock {
    private let fd: Int32

    /// Takes the lock, or fails with a one-line error when another process holds it.
    init(_ dir: URL) throws {
        fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot open the directory \(dir.path): \(String(cString: strerror(errno)))") }
        // A file system without flock (EINVAL, ENOLCK, ENOTSUP) trains unlocked, as before locks existed.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK else {
            close(fd)
            throw CLIError("\(dir.path) is in use by another `lstm train` (it holds the run's lock): wait for it to finish or use another --out")
        }
    }
    deinit { close(fd) }

    /// True when another open description of `dir` holds the lock (a live trainer).
    static func isHeldByAnother(_ dir: URL) -> Bool {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return false }
        return errno == EWOULDBLOCK
    }
}

/// Writes that survive a crash: write + fsync, rename, fsync of the directory. Errors are one-line `CLIError`s.
enum DurableIO {
    static func failure(_ what: String, _ url: URL) -> CLIError {
        CLIError("cannot \(what) \(url.path): \(String(cString: strerror(errno)))")
    }

    /// Writes `data` to `url` (created or truncated) and fsyncs it.
    static func write(_ data: Data, to url: URL) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("create", url) }
        defer { close(fd) }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw failure("write", url)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw failure("fsync", url) }
    }

    /// fsyncs an existing file.
    static func sync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", url) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync", url) }
    }

    /// fsyncs a directory, so that the names created or renamed in it are durable.
    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open the directory", url) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync the directory", url) }
    }

    static func rename(_ from: URL, to: URL) throws {
        guard systemRename(from.path, to.path) == 0 else { throw failure("rename \(from.lastPathComponent) to", to) }
    }

    static func makeDirectory(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw CLIError("cannot create the directory \(url.path): \(error.localizedDescription)")
        }
    }

    static func remove(_ url: URL) throws {
        do { try FileManager.default.removeItem(at: url) } catch {
            throw CLIError("cannot remove \(url.path): \(error.localizedDescription)")
        }
    }

    /// A file that people read (history.csv, a plot, a forecast): written to `.NAME.lstm-tmp` next to it, then renamed
    /// over it, so a reader never sees half a file and a crash leaves only a temporary that the next start removes.
    static func replace(_ data: Data, at url: URL) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".lstm-tmp")
        try write(data, to: tmp)
        try rename(tmp, to: url)
    }
}

/// CRC-32 (IEEE 802.3, the polynomial of zlib and PNG): check value 0xCBF43926 for "123456789".
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                for b in bytes { crc = t[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
