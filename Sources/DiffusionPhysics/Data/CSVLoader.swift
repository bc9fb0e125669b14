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
        return try parse(String(decoding: bytes, as: UTF8.self), source: path, label: label, header: header,
                         separator: separator, name: name ?? path)
    }

    /// Parses CSV text; `source` names it in error messages.
    public static func parse(_ text: String, source: String = "<csv>", label: LabelColumn = .auto,
                             header: Bool? = nil, separator: Character = ",", name: String? = nil) throws -> Dataset {
        var lines: [(number: Int, cells: [Substring])] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift; `isNewline` covers it, "\n" and a lone "\r".
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            lines.append((lineNumber, line.split(separator: separator, omittingEmptySubsequences: false).map(trim)))
        }
        guard let first = lines.first else { throw DataError("\(source): empty CSV file") }
        let hasHeader = header ?? first.cells.allSatisfy { Double($0) == nil }
        let names: [String]? = hasHeader ? first.cells.map(String.init) : nil
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
        for (number, cells) in body {
            guard cells.count == width else {
                throw DataError("\(source): line \(number) has \(cells.count) fields, expected \(width)")
            }
            for (j, cell) in cells.enumerated() {
                guard let v = Double(cell) else {
                    throw DataError("\(source): line \(number), column \(j + 1): non-numeric cell '\(cell.prefix(40))'")
                }
                guard v.isFinite else {
                    throw DataError("\(source): line \(number), column \(j + 1): non-finite value '\(cell)'")
                }
                if j == labelIndex {
                    guard v == v.rounded(), abs(v) < 9.0e15 else {
                        throw DataError("\(source): line \(number): label '\(cell)' is not an integer")
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

    private static func trim(_ s: Substring) -> Substring {
        var t = s
        while let c = t.first, c == " " || c == "\t" { t = t.dropFirst() }
        while let c = t.last, c == " " || c == "\t" { t = t.dropLast() }
        return t
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
