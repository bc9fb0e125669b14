import Foundation
import GSLKit

/// Reads and writes comma-separated numeric tables (gzip-compressed or raw), one point per line.
///
/// The label column may hold integers or text (text classes become 0..<k in sorted order, with
/// `Dataset.classNames`). A pandas index column (first column, header empty, `Unnamed: 0` or
/// `index`, integer values; or, without a header, exactly 0, 1, 2, …) is refused rather than read
/// as a feature ([YourData.md](../../Docs/YourData.md)).
public enum CSVLoader {
    /// Which column, if any, holds class labels.
    public enum LabelColumn: Sendable, Equatable {
        /// No label column.
        case none
        /// A header column named `label`, `labels`, `class` or `target` (case-insensitive), else none.
        case auto
        /// The column with this header name (needs a header).
        case name(String)
        /// The column at this 0-based index.
        case index(Int)
        /// The last column.
        case last
        /// `--label-column`: the header name if the file has a column so named, else a 0-based
        /// index, or `last`.
        case column(String)
    }

    /// Header names taken as the label column by `.auto` (lower case).
    public static let autoLabelNames: Set<String> = ["label", "labels", "class", "target"]

    /// Loads `path`. `header`: nil → auto-detect (`detectHeader`). Blank lines are skipped. Throws
    /// `DataError` naming the line on ragged rows, non-numeric or non-finite cells, a pandas index
    /// column, or an empty file.
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
    struct Line {
        let number: Int
        let cells: [Range<Int>]
    }

    /// Splits UTF-8 bytes into lines ("\n", "\r\n" or "\r") and cells; skips blank lines and a BOM.
    static func lines(_ b: [UInt8], separator: UInt8) -> [Line] {
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
    static func number(_ b: [UInt8], _ r: Range<Int>) -> Double? {
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

    /// Whether the first line is a header: it has a non-numeric cell where the second line has a
    /// number (or every cell of a lone first line is text); for columns of text only (string
    /// labels), when its value is a usual header word (`autoLabelNames`, `y`, empty, `Unnamed: 0`)
    /// or appears once while every other value repeats.
    static func detectHeader(_ bytes: [UInt8], _ lines: [Line]) -> Bool {
        guard let first = lines.first else { return false }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        let firstText = first.cells.map { number(bytes, $0) == nil }
        guard firstText.contains(true) else { return false }
        guard lines.count >= 2 else { return firstText.allSatisfy { $0 } }
        let second = lines[1]
        for (j, isText) in firstText.enumerated() where isText && j < second.cells.count {
            if number(bytes, second.cells[j]) != nil { return true }
        }
        // Text where the data are text too: decide on the first text column's values.
        guard let j = firstText.firstIndex(of: true) else { return false }
        let head = text(first.cells[j]).lowercased()
        if head.isEmpty || head.hasPrefix("unnamed:") || head == "y" || autoLabelNames.contains(head) { return true }
        var counts: [String: Int] = [:]
        for line in lines.dropFirst() where j < line.cells.count { counts[text(line.cells[j]), default: 0] += 1 }
        return counts[text(first.cells[j])] == nil && counts.count >= 1 && counts.values.allSatisfy { $0 >= 2 }
    }

    /// Resolves `label` to a column index of a table of `width` columns with header `names`.
    static func labelIndex(_ label: LabelColumn, names: [String]?, width: Int, source: String) throws -> Int? {
        switch label {
        case .none: return nil
        case .auto: return names?.firstIndex { autoLabelNames.contains($0.lowercased()) }
        case .last: return width - 1
        case .index(let i):
            guard i >= 0, i < width else { throw DataError("\(source): label column \(i) out of range (0..<\(width), 0-based)") }
            return i
        case .name(let n):
            guard let names else { throw DataError("\(source): label column '\(n)' asked but the file has no header (give a 0-based index instead)") }
            guard let i = names.firstIndex(of: n) else {
                throw DataError("\(source): no column named '\(n)' (columns: \(names.joined(separator: ",")))")
            }
            return i
        case .column(let c):
            if let names, let i = names.firstIndex(of: c) { return i }
            if c.lowercased() == "last" { return width - 1 }
            if let i = Int(c) { return try labelIndex(.index(i), names: names, width: width, source: source) }
            if names == nil { throw DataError("\(source): no header, so the label column must be a 0-based index or 'last' (got '\(c)')") }
            return try labelIndex(.name(c), names: names, width: width, source: source)
        }
    }

    /// Refuses a pandas index column: column 0 whose header is empty, `Unnamed: 0` or `index` and
    /// whose values are integers, or (no header, at least two other columns) whose values are
    /// exactly 0, 1, …, N − 1.
    static func refuseIndexColumn(_ bytes: [UInt8], body: ArraySlice<Line>, names: [String]?, labelIndex: Int?,
                                  width: Int, source: String) throws {
        guard labelIndex != 0, width >= 2, body.count >= 2 else { return }
        let values = body.map { number(bytes, $0.cells[0]) }
        let integers = values.allSatisfy { v in v.map { $0 == $0.rounded() } ?? false }
        let head = names?[0]
        let pandasHeader = head.map { h in h.isEmpty || h.lowercased().hasPrefix("unnamed: 0") || h.lowercased() == "index" } ?? false
        let consecutive = values.enumerated().allSatisfy { $0.element == Double($0.offset) }
        let featureColumns = width - (labelIndex == nil ? 0 : 1)
        guard (pandasHeader && integers) || (head == nil && consecutive && featureColumns >= 3) else { return }
        let shown = head.map { $0.isEmpty ? "empty header" : "header '\($0)'" } ?? "no header"
        throw DataError("\(source): column 1 looks like a pandas index (\(shown), values \(values.prefix(3).map { "\(Int($0 ?? 0))" }.joined(separator: ", ")), …), not a feature: save with df.to_csv(path, index=False) or read with pd.read_csv(path, index_col=0) and save again; if it is a real feature, give it a header name")
    }

    static func parse(bytes: [UInt8], source: String, label: LabelColumn, header: Bool?,
                      separator: Character, name: String?) throws -> Dataset {
        guard let sep = separator.asciiValue, sep != 0x0A, sep != 0x0D else {
            throw DataError("\(source): CSV separator must be one ASCII character other than a newline")
        }
        let lines = lines(bytes, separator: sep)
        guard let first = lines.first else { throw DataError("\(source): empty CSV file") }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        let hasHeader = header ?? detectHeader(bytes, lines)
        let names: [String]? = hasHeader ? first.cells.map(text) : nil
        let body = hasHeader ? lines.dropFirst() : lines[...]
        let width = first.cells.count
        guard !body.isEmpty else { throw DataError("\(source): CSV file has a header but no data rows") }
        for line in body where line.cells.count != width {
            throw DataError("\(source): line \(line.number) has \(line.cells.count) fields, expected \(width)")
        }
        let labelIndex = try Self.labelIndex(label, names: names, width: width, source: source)
        let d = width - (labelIndex == nil ? 0 : 1)
        guard d >= 1 else { throw DataError("\(source): no feature columns besides the label") }
        try refuseIndexColumn(bytes, body: body, names: names, labelIndex: labelIndex, width: width, source: source)

        var storage: [Double] = []
        storage.reserveCapacity(body.count * d)
        var labelCells: [String] = []
        for line in body {
            for (j, cell) in line.cells.enumerated() {
                if j == labelIndex {
                    labelCells.append(text(cell))
                    continue
                }
                guard let v = number(bytes, cell) else {
                    let column = names.map { "column \(j + 1) '\($0[j])'" } ?? "column \(j + 1)"
                    let hint = cell.isEmpty ? "" : " (if this column holds class labels, select it with --label-column \(names?[j] ?? String(j)))"
                    throw DataError("\(source): line \(line.number), \(column): non-numeric cell '\(text(cell).prefix(40))'\(hint)")
                }
                guard v.isFinite else {
                    throw DataError("\(source): line \(line.number), column \(j + 1): non-finite value '\(text(cell).prefix(40))'")
                }
                storage.append(v)
            }
        }
        let labels = try labelIndex.map { _ in try ClassLabels(cells: labelCells, source: source, firstLine: body.first!.number) }
        return try Dataset(points: Matrix(rows: body.count, columns: d, storage: storage),
                           labels: labels?.values, classNames: labels?.names, name: name ?? source)
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
