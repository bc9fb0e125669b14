import Foundation

/// Output failures (unwritable paths, plotting errors) as one-line messages.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// JSON encoding shared by every command: sorted keys, non-finite numbers as strings.
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        try writeText(try encode(value) + "\n", to: path)
    }
}

/// Writes text atomically (temporary file + rename): an interrupted run never leaves a
/// truncated result behind.
public func writeText(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    do {
        try Data(text.utf8).write(to: url, options: .atomic)
    } catch {
        throw OutputError("cannot write \(path): \(error.localizedDescription)")
    }
}

/// A CSV table: a header and rows of numbers or strings. Numbers are written in shortest
/// round-trip form.
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
    var text: String {
        switch self {
        case .number(let v): return v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf"))
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
        try? fm.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
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
            try Data(kept.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } else {
            try Data((header.joined(separator: ",") + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
        existingRows = rows
        guard let h = FileHandle(forWritingAtPath: path) else { throw OutputError("cannot open \(path) for appending") }
        handle = h
        do { try handle.seekToEnd() } catch { throw OutputError("cannot append to \(path): \(error.localizedDescription)") }
    }

    deinit { try? handle.close() }

    /// Appends one row and flushes it to disk.
    public func append(_ values: [CSVValue]) throws {
        precondition(values.count == header.count, "CSV row has \(values.count) cells, header has \(header.count)")
        do {
            // The throwing write: a full disk or a closed file is an error, not a trap.
            try handle.write(contentsOf: Data((values.map(\.text).joined(separator: ",") + "\n").utf8))
            try handle.synchronize()
        } catch { throw OutputError("cannot append to \(path): \(error.localizedDescription)") }
    }
}
