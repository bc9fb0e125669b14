import Foundation

/// Output failures (unwritable paths, plotting errors) as one-line messages.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// JSON encoding shared by every command: sorted keys; non-finite numbers are written as
/// `null` and listed, with their key path, in a top-level `warnings` array (JSON has no NaN).
public enum JSONOutput {
    private static let marks = (nan: "\u{1}nan", inf: "\u{1}inf", minusInf: "\u{1}-inf")

    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: marks.inf, negativeInfinity: marks.minusInf,
                                                                      nan: marks.nan)
        var data = try encoder.encode(value)
        var text = String(decoding: data, as: UTF8.self)
        guard text.contains("\\u0001") else { return text }
        // Key paths of the non-finite values, for the warnings list.
        var warnings: [String] = []
        if let tree = try? JSONSerialization.jsonObject(with: data) { collect(tree, path: "", into: &warnings) }
        // A schema envelope (OutputEnvelope) lists them in its own `warnings` key.
        if var carrier = value as? any (WarningCarrying & Encodable), !warnings.isEmpty {
            carrier.appendWarnings(warnings.map { "\($0) is not a finite number; written as null" })
            data = try encoder.encode(carrier)
            text = String(decoding: data, as: UTF8.self)
            warnings = []
        }
        for mark in [marks.nan, marks.inf, marks.minusInf] {
            text = text.replacingOccurrences(of: "\"\\u0001" + mark.dropFirst() + "\"", with: "null")
        }
        if text.hasPrefix("{"), !warnings.isEmpty {
            let list = try encoder.encode(warnings.map { "\($0) is not a finite number; written as null" })
            let entry = "\"warnings\" : " + String(decoding: list, as: UTF8.self)
            let rest = text.dropFirst().drop { $0 == "\n" || $0 == " " }
            text = rest.hasPrefix("}") ? "{" + (pretty ? "\n  " : "") + entry + (pretty ? "\n" : "") + rest
                                       : "{" + (pretty ? "\n  " : "") + entry + "," + (pretty ? "\n  " : "") + rest
        }
        return text
    }

    private static func collect(_ node: Any, path: String, into warnings: inout [String]) {
        if let s = node as? String, s.hasPrefix("\u{1}") {
            warnings.append((path.isEmpty ? "value" : path) + " (" + String(s.dropFirst()) + ")")
        } else if let d = node as? [String: Any] {
            for k in d.keys.sorted() { collect(d[k]!, path: path.isEmpty ? k : path + "." + k, into: &warnings) }
        } else if let a = node as? [Any] {
            for (i, v) in a.enumerated() { collect(v, path: path + "[\(i)]", into: &warnings) }
        }
    }

    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        try writeText(try encode(value) + "\n", to: path)
    }
}

/// Writes text atomically (temporary file + rename, `AtomicFile`): an interrupted run never
/// leaves a truncated result behind.
public func writeText(_ text: String, to path: String) throws {
    try AtomicFile.write(Data(text.utf8), to: path)
}

/// A CSV table: a camelCase header and rows of numbers or strings. Numbers are written in shortest
/// round-trip form; a missing value (NaN) is an empty cell (Docs/Schema.md).
public struct CSVTable: Sendable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String]) { self.header = header }

    public mutating func append(_ values: [CSVValue]) {
        precondition(values.count == header.count, "CSV row has \(values.count) cells, header has \(header.count)")
        rows.append(values.map(\.text))
    }

    public var text: String {
        ([header.joined(separator: ",")] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n") + "\n"
    }

    /// CSV text as gnuplot data: commas become spaces and an empty (missing) cell becomes `nan`, so
    /// columns stay aligned (gnuplot skips the point). The header line is kept as it is.
    public static func spaceSeparated(_ csvText: String) -> String {
        csvText.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.isEmpty ? "" : line.split(separator: ",", omittingEmptySubsequences: false).map { $0.isEmpty ? "nan" : String($0) }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    public func write(to path: String) throws { try writeText(text, to: path) }
}

/// A CSV cell.
public enum CSVValue: Sendable, CustomStringConvertible, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    case number(Double)
    case integer(Int)
    case text(String)
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    /// The cell as written to the file.
    public var description: String { text }
    public var text: String {
        switch self {
        // A missing value (NaN) is an empty cell (Docs/Schema.md "CSV"); ±∞ is a value (e.g. D = ∞).
        case .number(let v): return v.isFinite ? "\(v)" : (v.isNaN ? "" : (v > 0 ? "inf" : "-inf"))
        case .integer(let v): return "\(v)"
        case .text(let s): return s.contains(",") ? "\"\(s)\"" : s
        }
    }
}

/// An append-only CSV file that survives interruption: each row is flushed as soon as it is
/// computed, and on restart the rows already present are read back so finished work is skipped.
public final class ResumableCSV {
    public let path: String
    public let header: [String]
    /// Rows found in the file when it was opened (finished work of an earlier run).
    public private(set) var existingRows: [[String]]
    private let handle: FileHandle

    public init(path: String, header: [String]) throws {
        self.path = path
        self.header = header
        let fm = FileManager.default
        try AtomicFile.createParent(of: path)
        var rows: [[String]] = []
        if let data = fm.contents(atPath: path), !data.isEmpty {
            var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            // A line without its newline was cut by an interruption: drop it.
            if lines.last != "" { lines.removeLast() } else { lines.removeLast() }
            guard let first = lines.first, first == header.joined(separator: ",") else {
                throw OutputError("\(path) exists with a different header; remove it or choose another --out")
            }
            rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            let kept = ([first] + rows.map { $0.joined(separator: ",") }).joined(separator: "\n") + "\n"
            try AtomicFile.write(Data(kept.utf8), to: path)
        } else {
            try AtomicFile.write(Data((header.joined(separator: ",") + "\n").utf8), to: path)
        }
        existingRows = rows
        guard let h = FileHandle(forWritingAtPath: path) else { throw OutputError("cannot open \(path) for appending") }
        handle = h
        do { try handle.seekToEnd() } catch { throw OutputError("cannot append to \(path): \(FileErrors.cause(error))") }
    }

    deinit { try? handle.close() }

    /// Appends one row and flushes it to disk.
    public func append(_ values: [CSVValue]) throws {
        precondition(values.count == header.count, "CSV row has \(values.count) cells, header has \(header.count)")
        do {
            // The throwing write: a full disk or a closed file is an error, not a trap.
            try handle.write(contentsOf: Data((values.map(\.text).joined(separator: ",") + "\n").utf8))
            try handle.synchronize()
        } catch { throw OutputError("cannot append to \(path): \(FileErrors.cause(error))") }
    }
}
