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
    @discardableResult
    public static func render(script: String, to png: String, width: Int = 900, height: Int = 600) throws -> String {
        let scriptPath = (png as NSString).deletingPathExtension + ".gp"
        let full = """
        set terminal pngcairo size \(width),\(height) enhanced font 'Sans,11'
        set output '\(png)'
        \(script)
        unset output

        """
        try writeText(full, to: scriptPath)
        guard let gnuplot = executable else {
            throw OutputError("gnuplot not found (install gnuplot-nox); script written to \(scriptPath)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gnuplot)
        process.arguments = [scriptPath]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { throw OutputError("cannot run gnuplot: \(error.localizedDescription)") }
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 || messages.contains("error") {
            let line = messages.split(separator: "\n").first(where: { $0.contains("error") }) ?? Substring(messages)
            throw OutputError("gnuplot failed on \(scriptPath): \(line.trimmingCharacters(in: .whitespaces))")
        }
        return scriptPath
    }

    /// Quotes a string for a gnuplot script (single quotes, `{}` and `_` escaped for enhanced text).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
