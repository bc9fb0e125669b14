import DiffusionPhysics
import Foundation

/// Figures through gnuplot (Debian `gnuplot-nox`, pngcairo). Every figure leaves its data and a
/// `.gp` script beside the PNG so it can be re-rendered or edited by hand.
public enum Gnuplot {
    /// True when a `gnuplot` executable is on the PATH.
    public static var isAvailable: Bool { executable != nil }

    static var executable: String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for p in paths {
            let candidate = "\(p)/gnuplot"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Writes `script` next to `png` (same name, `.gp`) and renders it. The script should not set
    /// the terminal or output: this prepends `set terminal pngcairo size W,H; set output "png"`.
    /// Throws with gnuplot's own message if it reports an error.
    /// Throws with gnuplot's own message if it reports an error, exits non-zero or leaves an
    /// empty figure; the PNG is rendered under a temporary name and renamed when complete
    /// (`AtomicFile`), so a failure (a full disk) never leaves a damaged figure.
    @discardableResult
    public static func render(script: String, to png: String, width: Int = 900, height: Int = 600) throws -> String {
        let scriptPath = (png as NSString).deletingPathExtension + ".gp"
        func full(_ output: String) -> String {
            """
            set terminal pngcairo size \(width),\(height) enhanced font 'Sans,11'
            set output '\(output)'
            \(script)
            unset output

            """
        }
        try writeText(full(png), to: scriptPath)
        guard let gnuplot = executable else {
            throw OutputError("gnuplot not found (install gnuplot-nox); script written to \(scriptPath)")
        }
        try AtomicFile.replace(png, allowEmpty: false) { tmp in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: gnuplot)
            process.arguments = []
            let input = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            do { try process.run() } catch { throw OutputError("cannot run gnuplot: \(FileErrors.cause(error))") }
            try? input.fileHandleForWriting.write(contentsOf: Data(full(tmp).utf8))
            try? input.fileHandleForWriting.close()
            let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            if process.terminationStatus != 0 || messages.contains("error") {
                let line = messages.split(separator: "\n").first(where: { $0.contains("error") }) ?? Substring(messages)
                let cause = line.trimmingCharacters(in: .whitespaces)
                throw OutputError("gnuplot failed on \(scriptPath) (exit status \(process.terminationStatus))"
                                  + (cause.isEmpty ? "" : ": \(cause)"))
            }
        }
        return scriptPath
    }

    /// Quotes a string for a gnuplot script (single quotes, `{}` and `_` escaped for enhanced text).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
