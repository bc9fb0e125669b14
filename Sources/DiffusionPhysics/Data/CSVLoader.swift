import Foundation
import GSLKit

/// Reads and writes comma-separated numeric tables (gzip-compressed or raw), one point per line.
public enum CSVLoader {
    /// Which column, if any, holds integer class labels.
    public enum LabelColumn: Sendable, Equatable {
        /// No label column.
        case none
        /// The column named `label` (case-insensitive) if the file has a header with one, else none.
        case auto
        /// The column with this header name (needs a header).
        case name(String)
        /// The column at this 0-based index.
        case index(Int)
        /// The last column.
        case last
    }

    /// Loads `path`. `header`: nil → auto-detect (the first line is a header iff none of its cells
    /// is a number). Blank lines are skipped. Throws `DataError` naming the line on ragged rows,
    /// non-numeric or non-finite cells, non-integer labels, or an empty file.
    public static func load(path: String, label: LabelColumn = .auto, header: Bool? = nil,
                            separator: Character = ",", name: String? = nil) throws -> Dataset {
        let bytes: [UInt8]
        do { bytes = try GzipReader.read(path: path) } catch { throw DataError(error) }
        return try parse(bytes: bytes, source: path, label: label, header: header, separator: separator, name: name ?? path)
    }

    /// Parses CSV text; `source` names it in error messages.
    public static func parse(_ text: String, source: String = "<csv>", label: LabelColumn = .auto,
                             header: Bool? = nil, separator: Character = ",", name: String? = nil) throws -> Dataset {
        try parse(bytes: Array(text.utf8), source: source, label: label, header: header, separator: separator, name: name)
    }

    /// One non-blank line: its 1-based number and the byte ranges of its trimmed cells.
    private struct Line {
        let number: Int
        let cells: [Range<Int>]
    }

    /// Splits UTF-8 bytes into lines ("\n", "\r\n" or "\r") and cells; skips blank lines and a BOM.
    private static func lines(_ b: [UInt8], separator: UInt8) -> [Line] {
        var out: [Line] = []
        var i = b.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var number = 0
        while i < b.count {
            number += 1
            var end = i
            while end < b.count && b[end] != 0x0A && b[end] != 0x0D { end += 1 }
            var cells: [Range<Int>] = []
            var blank = true
            var cellStart = i
            for k in i...end {
                if k == end || b[k] == separator {
                    var lo = cellStart, hi = k
                    while lo < hi && (b[lo] == 0x20 || b[lo] == 0x09) { lo += 1 }
                    while hi > lo && (b[hi - 1] == 0x20 || b[hi - 1] == 0x09) { hi -= 1 }
                    if hi > lo || k < end { blank = false }
                    cells.append(lo..<hi)
                    cellStart = k + 1
                }
            }
            if !blank { out.append(Line(number: number, cells: cells)) }
            i = end
            if i < b.count && b[i] == 0x0D { i += 1 }
            if i < b.count && b[i] == 0x0A && (i == end || b[i - 1] == 0x0D) { i += 1 }
        }
        return out
    }

    /// The number in `b[r]`: plain integers of ≤ 15 digits exactly by hand, everything else
    /// through `Double(String)` (shortest-decimal text parses back exactly).
    private static func number(_ b: [UInt8], _ r: Range<Int>) -> Double? {
        guard !r.isEmpty else { return nil }
        var k = r.lowerBound
        let negative = b[k] == 0x2D
        if negative || b[k] == 0x2B { k += 1 }
        if k < r.upperBound && r.upperBound - k <= 15 {
            var v = 0
            var digits = true
            for j in k..<r.upperBound {
                let c = b[j] &- 0x30
                if c > 9 { digits = false; break }
                v = v * 10 + Int(c)
            }
            if digits { return negative ? -Double(v) : Double(v) }
        }
        return Double(String(decoding: b[r], as: UTF8.self))
    }

    static func parse(bytes: [UInt8], source: String, label: LabelColumn, header: Bool?,
                      separator: Character, name: String?) throws -> Dataset {
        guard let sep = separator.asciiValue, sep != 0x0A, sep != 0x0D else {
            throw DataError("\(source): CSV separator must be one ASCII character other than a newline")
        }
        let lines = lines(bytes, separator: sep)
        guard let first = lines.first else { throw DataError("\(source): empty CSV file") }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        let hasHeader = header ?? first.cells.allSatisfy { number(bytes, $0) == nil }
        let names: [String]? = hasHeader ? first.cells.map(text) : nil
        let body = hasHeader ? lines.dropFirst() : lines[...]
        let width = first.cells.count
        guard !body.isEmpty else { throw DataError("\(source): CSV file has a header but no data rows") }

        let labelIndex: Int?
        switch label {
        case .none: labelIndex = nil
        case .auto: labelIndex = names?.firstIndex { $0.lowercased() == "label" }
        case .last: labelIndex = width - 1
        case .index(let i):
            guard i >= 0, i < width else { throw DataError("\(source): label column \(i) out of range (0..<\(width))") }
            labelIndex = i
        case .name(let n):
            guard let names else { throw DataError("\(source): label column '\(n)' asked but the file has no header") }
            guard let i = names.firstIndex(of: n) else {
                throw DataError("\(source): no column named '\(n)' (columns: \(names.joined(separator: ",")))")
            }
            labelIndex = i
        }
        let d = width - (labelIndex == nil ? 0 : 1)
        guard d >= 1 else { throw DataError("\(source): no feature columns besides the label") }

        var storage: [Double] = []
        storage.reserveCapacity(body.count * d)
        var labels: [Int] = []
        for line in body {
            guard line.cells.count == width else {
                throw DataError("\(source): line \(line.number) has \(line.cells.count) fields, expected \(width)")
            }
            for (j, cell) in line.cells.enumerated() {
                guard let v = number(bytes, cell) else {
                    throw DataError("\(source): line \(line.number), column \(j + 1): non-numeric cell '\(text(cell).prefix(40))'")
                }
                guard v.isFinite else {
                    throw DataError("\(source): line \(line.number), column \(j + 1): non-finite value '\(text(cell).prefix(40))'")
                }
                if j == labelIndex {
                    guard v == v.rounded(), abs(v) < 9.0e15 else {
                        throw DataError("\(source): line \(line.number): label '\(text(cell).prefix(40))' is not an integer")
                    }
                    labels.append(Int(v))
                } else {
                    storage.append(v)
                }
            }
        }
        return try Dataset(points: Matrix(rows: body.count, columns: d, storage: storage),
                           labels: labelIndex == nil ? nil : labels, name: name ?? source)
    }

    /// CSV text of `matrix` (shortest round-trip decimal per value, so float64 reads back exactly),
    /// with an optional `label` column appended and an optional header `x0,…,x{d-1}[,label]`.
    public static func format(_ matrix: Matrix<Double>, labels: [Int]? = nil, header: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(matrix.storage.count * 12)
        if header {
            out += (0..<matrix.columns).map { "x\($0)" }.joined(separator: ",")
            if labels != nil { out += ",label" }
            out += "\n"
        }
        for i in 0..<matrix.rows {
            out += matrix.rowSlice(i).map { "\($0)" }.joined(separator: ",")
            if let labels { out += ",\(labels[i])" }
            out += "\n"
        }
        return out
    }

    /// Writes `matrix` (and labels) to `path` as CSV; see `format`.
    public static func write(_ matrix: Matrix<Double>, labels: [Int]? = nil, header: Bool = true, to path: String) throws {
        precondition(labels == nil || labels!.count == matrix.rows, "CSVLoader.write: labels.count ≠ rows")
        try writeFile(Array(format(matrix, labels: labels, header: header).utf8), to: path)
    }
}

extension Dataset {
    /// Writes the points (and a `label` column if labelled) as CSV with a header.
    public func writeCSV(to path: String, header: Bool = true) throws {
        try CSVLoader.write(points, labels: labels, header: header, to: path)
    }
}

extension Matrix where Scalar == Double {
    /// Writes the matrix as CSV (header `x0,…` optional).
    public func writeCSV(to path: String, header: Bool = true) throws {
        try CSVLoader.write(self, header: header, to: path)
    }
}
