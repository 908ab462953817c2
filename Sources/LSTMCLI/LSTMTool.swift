import ArgumentParser
import Foundation
import LSTMKit

/// The `lstm` command line: train, evaluate, generate and forecast with LSTMKit.
///
///     lstm demo                                          # character LM on a shipped public-domain text, ~2 minutes
///     lstm train charlm --text book.txt --out runs/book  # then: lstm generate --model runs/book --prompt "The "
///     lstm train forecast                                # the shipped monthly El Nino series
///     lstm train classify --csv reviews.csv --text-column text --label-column label
///     lstm evaluate --model runs/classify --csv test.csv
///     lstm devices
///     lstm export --model runs/book --onnx book.onnx     # then: lstm import --onnx book.onnx --out runs/copy
///
/// Every error a user can cause (a missing file, a wrong column, a bad checkpoint, ...) ends the program with
/// one line, `error: ...`, on stderr and exit status 1; nothing is written before the input has been checked.
public struct LSTMCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lstm",
        abstract: "Train, evaluate, generate and forecast with LSTMs, on OpenCL or the CPU.",
        discussion: """
            Start with `lstm demo`: it trains a character-level language model on a public-domain text shipped \
            in the binary, prints a sample and writes a checkpoint and a loss plot.
            """,
        subcommands: [DemoCommand.self, TrainCommand.self, GenerateCommand.self, ForecastCommand.self, ForecastStreamCommand.self,
                      EvaluateCommand.self, DevicesCommand.self, ExportCommand.self, ImportCommand.self]
    )
    public init() {}
}

/// A user-facing error: one line that says what is wrong and what to do.
public struct CLIError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum LSTMTool {
    /// Parses `arguments` (without the program name) and runs the command. Returns the exit status: 0 on
    /// success, 1 for an error (printed as one line, `error: ...`, through `errorOutput`), ArgumentParser's
    /// codes for usage errors (64) and help (0).
    public static func run(_ arguments: [String], errorOutput: (String) -> Void = writeToStandardError) -> Int32 {
        var command: ParsableCommand
        do {
            command = try LSTMCommand.parseAsRoot(arguments)
        } catch {
            let code = LSTMCommand.exitCode(for: error)
            let message = LSTMCommand.fullMessage(for: error)
            if code == .success { print(message) } else { errorOutput(message) }
            return code.rawValue
        }
        do {
            // Under mpirun only rank 0 prints (errors still reach stderr on every rank); a process outside mpirun is rank 0 of 1.
            let world = try Distributed.world()
            if world.rank != 0 { let null = open("/dev/null", O_WRONLY); if null >= 0 { dup2(null, STDOUT_FILENO); close(null) } }
            try command.run()
            world.finalize()
            return 0
        } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // ArgumentParser's own: help, usage errors, ExitCode.
            fflush(nil)
            let code = LSTMCommand.exitCode(for: error)
            let message = LSTMCommand.fullMessage(for: error)
            if code == .success { print(message) } else if !message.isEmpty { errorOutput(message) }
            return code.rawValue
        } catch {
            // Everything else, whatever its type (CLIError, LSTMKitError, OpenCLError, DecodingError, EncodingError,
            // CocoaError, POSIX errors, ValidationError...), is one line and exit status 1.
            fflush(nil)
            errorOutput("error: " + describe(error))
            return 1
        }
    }

    /// Writes one line to stderr.
    public static func writeToStandardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// One line for any error: LSTMKit's typed errors carry their own message; multi-line texts (an OpenCL
    /// build log) are cut to their first line.
    public static func describe(_ error: Error) -> String {
        let text: String
        switch error {
        case let e as CLIError: text = e.message
        case let e as LSTMKitError: text = e.description
        case let e as OpenCLError:
            if case let .build(file, _, _) = e {
                text = "the OpenCL compiler rejected \(file) (run with --device cpu, or see the build log with LSTMKIT_KERNEL_DIR)"
            } else {
                text = "OpenCL: \(e.description) (run with --device cpu to use the CPU)"
            }
        case let e as DecodingError: text = "cannot decode JSON: \(e)"
        case let e as EncodingError:
            if case let .invalidValue(value, context) = e {
                text = "cannot encode \(value) as JSON at \(context.codingPath.map(\.stringValue).joined(separator: ".")) (\(context.debugDescription))"
            } else { text = "cannot encode JSON: \(e)" }
        case let e as ONNXError: text = e.description
        default: text = (error as? LocalizedError)?.errorDescription ?? "\(error)"
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.first ?? "\(type(of: error))"
    }
}
