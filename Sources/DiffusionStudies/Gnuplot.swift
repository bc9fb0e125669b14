import DiffusionPhysics
import Foundation

/// Figures through gnuplot (Debian `gnuplot-nox`, cairo terminals). The format follows the file
/// extension: `.png` (pngcairo), `.pdf` (pdfcairo, vector) or `.svg` (svg, vector). Every figure
/// leaves its data and a `.gp` script beside it; the script names its data files relative to its
/// own folder, so `cd FOLDER && gnuplot NAME.gp` re-renders it (`gnuplot -e "fmt='pdf'" NAME.gp`
/// for another format).
public enum Gnuplot {
    /// The error-bar convention of every figure (stated in captions and reports).
    public static let errorBarConvention = "error bars: ±1 standard error (SE)"

    /// A figure format, chosen by the file extension.
    public enum Format: String, CaseIterable, Sendable {
        case png, pdf, svg

        /// The format of `path` by its extension; one clear error for any other extension.
        public init(path: String) throws {
            let ext = (path as NSString).pathExtension.lowercased()
            guard let f = Format(rawValue: ext) else {
                throw OutputError("figure \(path): the extension must be .png, .pdf or .svg (it chooses the format)")
            }
            self = f
        }

        /// The gnuplot terminal line for a figure of `width` × `height` pixels; PDF at 120 px per inch
        /// (900 px → 7.5 in), where its text takes the same share of the figure as in the PNG.
        public func terminal(width: Int, height: Int) -> String {
            switch self {
            case .png: return "set terminal pngcairo size \(width),\(height) enhanced font 'Sans,11' linewidth 1.2"
            case .pdf:
                return "set terminal pdfcairo size \(String(format: "%.2f", Double(width) / 120))in,\(String(format: "%.2f", Double(height) / 120))in enhanced font 'Sans,11' linewidth 1.2"
            case .svg: return "set terminal svg size \(width),\(height) enhanced font 'Sans,11' linewidth 1.2 background '#ffffff'"
            }
        }
    }

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

    /// `script` with every file reference in `folder` made relative to it (`'folder/x.csv'` → `'x.csv'`).
    static func relative(_ script: String, folder: String) -> String {
        guard !folder.isEmpty else { return script }
        var s = script
        for prefix in Set([folder, URL(fileURLWithPath: folder).standardizedFileURL.path]) where !prefix.isEmpty {
            let p = prefix.hasSuffix("/") ? prefix : prefix + "/"
            s = s.replacingOccurrences(of: "'" + p, with: "'").replacingOccurrences(of: "\"" + p, with: "\"")
        }
        return s
    }

    /// The `.gp` file written beside a figure: a header selecting the terminal by `fmt` (default
    /// the figure's own format), output names relative to the script's folder, then `body`.
    static func scriptFile(body: String, name: String, format: Format, width: Int, height: Int) -> String {
        let stem = (name as NSString).deletingPathExtension
        func branch(_ f: Format) -> String { "\(f.terminal(width: width, height: height)); set output '\(stem).\(f.rawValue)'" }
        return """
        # Re-render from this folder: gnuplot \(stem).gp   (other formats: gnuplot -e "fmt='pdf'" \(stem).gp, or fmt='svg', fmt='png')
        # \(errorBarConvention).
        if (!exists("fmt")) fmt = '\(format.rawValue)'
        if (fmt eq 'pdf') { \(branch(.pdf)) } else { if (fmt eq 'svg') { \(branch(.svg)) } else { \(branch(.png)) } }
        set encoding utf8
        \(body)
        unset output

        """
    }

    /// Renders `script` to `figure` (PNG, PDF or SVG by its extension) and writes the script beside
    /// it (same name, `.gp`). The script must not set the terminal or output; file names in it that
    /// lie in the figure's folder are made relative to that folder (gnuplot runs there).
    /// Throws with gnuplot's own message if it reports an error, exits non-zero or leaves an
    /// empty figure; the figure is rendered under a temporary name and renamed when complete
    /// (`AtomicFile`), so a failure (a full disk) never leaves a damaged figure.
    @discardableResult
    public static func render(script: String, to figure: String, width: Int = 900, height: Int = 600) throws -> String {
        let format = try Format(path: figure)
        let folder = (figure as NSString).deletingLastPathComponent
        let name = (figure as NSString).lastPathComponent
        let body = relative(script, folder: folder)
        let scriptPath = (figure as NSString).deletingPathExtension + ".gp"
        try AtomicFile.createParent(of: figure)
        try writeText(scriptFile(body: body, name: name, format: format, width: width, height: height), to: scriptPath)
        guard let gnuplot = executable else {
            throw OutputError("gnuplot not found (install gnuplot-nox); script written to \(scriptPath)")
        }
        try AtomicFile.replace(figure, allowEmpty: false) { tmp in
            let full = """
            \(format.terminal(width: width, height: height))
            set output '\(tmp.replacingOccurrences(of: "'", with: "''"))'
            set encoding utf8
            \(body)
            unset output

            """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: gnuplot)
            process.arguments = []
            if !folder.isEmpty { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
            let input = Pipe(), errors = Pipe()
            process.standardInput = input
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            do { try process.run() } catch { throw OutputError("cannot run gnuplot: \(FileErrors.cause(error))") }
            try? input.fileHandleForWriting.write(contentsOf: Data(full.utf8))
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

    /// Renders the same script once per format (`figure` with each extension): the first format's
    /// file is returned. The `.gp` script is written for the first format.
    @discardableResult
    public static func render(script: String, stem: String, formats: [Format], width: Int = 900, height: Int = 600) throws -> String {
        let chosen = formats.isEmpty ? [Format.png] : formats
        for f in chosen.reversed() { try render(script: script, to: stem + "." + f.rawValue, width: width, height: height) }
        return stem + "." + chosen[0].rawValue
    }

    /// Tick values 1, 2, 5 × 10^k inside [lo, hi] (lo, hi > 0) for a log axis, so even a range
    /// narrower than a decade carries at least two labelled ticks (else the two ends, rounded).
    public static func logTicks(from lo: Double, to hi: Double) -> [Double] {
        guard lo > 0, hi > lo, lo.isFinite, hi.isFinite else { return [] }
        var ticks: [Double] = []
        for k in Int(floor(log10(lo)))...Int(ceil(log10(hi))) {
            for m in [1.0, 2, 5] {
                let v = m * pow(10, Double(k))
                if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { ticks.append(Double(String(format: "%.3g", v))!) }
            }
        }
        if ticks.count >= 2 { return ticks }
        var finer: [Double] = []
        for k in Int(floor(log10(lo)))...Int(ceil(log10(hi))) {
            for m in 1...9 {
                let v = Double(m) * pow(10, Double(k))
                if v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) { finer.append(v) }
            }
        }
        if finer.count >= 2 { return finer }
        return [Double(String(format: "%.2g", lo))!, Double(String(format: "%.2g", hi))!]
    }

    /// Quotes a string for a gnuplot script (single quotes doubled). Use `noenhanced` on the
    /// label or title when the text must not be read as enhanced text (`_` subscripts, `^`).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A multi-line string for a title or label (double quotes, lines joined by \\n).
    public static func quote(lines: [String]) -> String {
        "\"" + lines.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") }
            .joined(separator: "\\n") + "\""
    }

    /// A labelled vertical reference line at x = `x`: a dashed line across the plot and its label.
    /// With `inside` nil the label sits just above the top border (`row` staggers labels of nearby
    /// lines; leave `set tmargin` room); with `inside` = y (graph fraction) it is written upwards
    /// along the left side of the line from that height, inside the plot.
    /// `tag` numbers the arrow and label so a later panel can `unset` them.
    public static func verticalLine(at x: Double, label: String, colour: String, dashType: Int = 2, row: Int = 0,
                                    inside: Double? = nil, tag: Int) -> String {
        let arrow = "set arrow \(tag) from \(x), graph 0 to \(x), graph 1 nohead dt \(dashType) lw 1.5 lc rgb '\(colour)' front"
        if let y = inside {
            return arrow + "\nset label \(tag) \(quote(label)) at \(x), graph \(y) left rotate by 90 offset -0.6,0 tc rgb '\(colour)' front font ',9'"
        }
        return arrow + "\nset label \(tag) \(quote(label)) at \(x), graph \(String(format: "%.3f", 1.03 + 0.06 * Double(row))) center tc rgb '\(colour)' front font ',10'"
    }

    /// A vertical reference line labelled in the key instead of on the plot (for lines too close
    /// together to label in place): `setup` draws the line, `series` is the key entry to add to a plot.
    public static func keyedVerticalLine(at x: Double, label: String, colour: String, dashType: Int = 2, tag: Int) -> (setup: String, series: String) {
        ("set arrow \(tag) from \(x), graph 0 to \(x), graph 1 nohead dt \(dashType) lw 1.5 lc rgb '\(colour)' front",
         "1/0 with lines dt \(dashType) lw 1.5 lc rgb '\(colour)' title \(quote(label))")
    }

    /// A labelled horizontal reference line at y = `y` with its label at the right end inside the plot.
    public static func horizontalLine(at y: Double, label: String, colour: String = "gray40", dashType: Int = 3, tag: Int,
                                      labelX: Double = 0.99, below: Bool = false) -> String {
        """
        set arrow \(tag) from graph 0, first \(y) to graph 1, first \(y) nohead dt \(dashType) lw 1.2 lc rgb '\(colour)' back
        set label \(tag) \(quote(label)) at graph \(labelX), first \(y) right offset 0,\(below ? "-0.7" : "0.7") tc rgb '\(colour)' front font ',9'
        """
    }
}
