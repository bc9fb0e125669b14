import Foundation
import GSLKit

/// Class labels of n points: integers, or text classes mapped to 0..<k in sorted name order
/// (`names[c]` is the name of class c). See [YourData.md](../../Docs/YourData.md) for the routes
/// by which labels reach a data set.
public struct ClassLabels: Sendable, Equatable {
    /// One label per point.
    public var values: [Int]
    /// Class names when the labels were text; nil for integer labels.
    public var names: [String]?

    public init(values: [Int], names: [String]? = nil) {
        self.values = values
        self.names = names
    }

    /// Labels from text cells: all integers (`3`, `-1`, `2.0`) → those integers; otherwise every
    /// cell is a class name. Empty cells and non-integer numbers (`2.5`) throw a `DataError`
    /// naming the line (`firstLine` is the line number of `cells[0]`).
    public init(cells: [String], source: String, firstLine: Int = 1) throws {
        var ints: [Int] = []
        ints.reserveCapacity(cells.count)
        var allIntegers = true
        for (i, c) in cells.enumerated() {
            let t = c.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty else { throw DataError("\(source): line \(firstLine + i): empty label") }
            if allIntegers {
                if let v = Int(t) { ints.append(v); continue }
                if let x = Double(t), x.isFinite {
                    guard x == x.rounded(), abs(x) < 9.0e15 else {
                        throw DataError("\(source): line \(firstLine + i): label '\(t.prefix(40))' is not an integer")
                    }
                    ints.append(Int(x))
                    continue
                }
                allIntegers = false
            }
        }
        if allIntegers {
            self.init(values: ints)
        } else {
            try self.init(names: cells.map { $0.trimmingCharacters(in: .whitespaces) }, source: source)
        }
    }

    /// Text classes: sorted distinct names become 0..<k.
    public init(names cells: [String], source: String) throws {
        if let empty = cells.firstIndex(where: \.isEmpty) { throw DataError("\(source): empty label at item \(empty)") }
        let names = Array(Set(cells)).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        self.init(values: cells.map { index[$0]! }, names: names)
    }
}

/// Reads class labels from a file: `.npy` (integer, bool, integral float, or text `<U…`/`|S…`
/// arrays of shape (n,) or (n, 1)), IDX (`…-idx1-ubyte[.gz]`, 1-D uint8), or CSV/text (one label
/// per line; with several columns, the `column` or a column named label/labels/class/target).
public enum LabelLoader {
    /// The labels in `path`; `column` (a header name, a 0-based index or `last`) picks a column
    /// of a CSV with several columns.
    public static func load(path: String, column: String? = nil) throws -> ClassLabels {
        let lower = path.lowercased()
        let base = lower.hasSuffix(".gz") ? String(lower.dropLast(3)) : lower
        let bytes: [UInt8]
        do { bytes = try GzipReader.read(path: path) } catch { throw DataError(error) }
        if base.hasSuffix(".npy") {
            if column != nil { throw DataError("\(path): a label column applies to CSV files, not .npy") }
            return try parseNPY(bytes, source: path)
        }
        if base.hasSuffix("-ubyte") || base.hasSuffix(".idx") || bytes.starts(with: [0, 0, 8, 1]) {
            if column != nil { throw DataError("\(path): a label column applies to CSV files, not IDX") }
            let a = try IDXLoader.parse(bytes, path: path)
            guard a.shape.count == 1 else { throw DataError("\(path): label file must be 1-D, has shape \(a.shape)") }
            return ClassLabels(values: a.bytes.map(Int.init))
        }
        return try parseCSV(bytes, source: path, column: column)
    }

    /// Labels from `.npy` bytes.
    public static func parseNPY(_ bytes: [UInt8], source: String) throws -> ClassLabels {
        let (header, dataStart) = try NPYLoader.header(bytes, source: source)
        guard header.shape.count == 1 || (header.shape.count == 2 && header.shape[1] == 1) else {
            throw DataError("\(source): labels must have shape (n,) or (n, 1), got \(NPYLoader.shapeText(header.shape))")
        }
        let n = header.shape[0]
        let descr = header.descr.dropFirst()
        if let kind = descr.first, kind == "U" || kind == "S", let width = Int(descr.dropFirst()), width >= 1 {
            let item = kind == "U" ? 4 * width : width
            if header.descr.first == ">" && kind == "U" { throw DataError("\(source): big-endian text labels not supported") }
            _ = try NPYLoader.checkPayload(bytes, dataStart: dataStart, header: header, itemSize: item, source: source)
            var names: [String] = []
            names.reserveCapacity(n)
            for i in 0..<n {
                let o = dataStart + i * item
                if kind == "U" {
                    var scalars = String.UnicodeScalarView()
                    for k in 0..<width {
                        var v: UInt32 = 0
                        for b in 0..<4 { v |= UInt32(bytes[o + 4 * k + b]) << (8 * b) }
                        if v == 0 { break }
                        guard let u = Unicode.Scalar(v) else { throw DataError("\(source): invalid character in label \(i)") }
                        scalars.append(u)
                    }
                    names.append(String(scalars))
                } else {
                    var end = o
                    while end < o + width && bytes[end] != 0 { end += 1 }
                    names.append(String(decoding: bytes[o..<end], as: UTF8.self))
                }
            }
            return try ClassLabels(names: names, source: source)
        }
        if header.descr.contains("O") {
            throw DataError("\(source): object-dtype labels need pickle; save them as np.asarray(y, dtype=str) or as integers")
        }
        let a = try NPYLoader.parseArray(bytes, source: source)
        var values: [Int] = []
        values.reserveCapacity(a.values.count)
        for (i, v) in a.values.enumerated() {
            guard v == v.rounded(), abs(v) < 9.0e15 else { throw DataError("\(source): label \(v) at index \(i) is not an integer") }
            values.append(Int(v))
        }
        return ClassLabels(values: values)
    }

    /// Labels from CSV/text bytes: one column, or the chosen / auto-named column of several.
    public static func parseCSV(_ bytes: [UInt8], source: String, column: String? = nil) throws -> ClassLabels {
        let lines = CSVLoader.lines(bytes, separator: UInt8(ascii: ","))
        guard let first = lines.first else { throw DataError("\(source): empty label file") }
        let width = first.cells.count
        for line in lines where line.cells.count != width {
            throw DataError("\(source): line \(line.number) has \(line.cells.count) fields, expected \(width)")
        }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        let hasHeader = CSVLoader.detectHeader(bytes, lines)
        let names: [String]? = hasHeader ? first.cells.map(text) : nil
        let body = hasHeader ? lines.dropFirst() : lines[...]
        guard !body.isEmpty else { throw DataError("\(source): label file has a header but no labels") }
        let index: Int
        if let column {
            index = try CSVLoader.labelIndex(.column(column), names: names, width: width, source: source)!
        } else if width == 1 {
            index = 0
        } else if let auto = try CSVLoader.labelIndex(.auto, names: names, width: width, source: source) {
            index = auto
        } else if width == 2, let names, names[0].isEmpty || names[0].lowercased().hasPrefix("unnamed: 0") {
            index = 1      // pandas Series.to_csv: index column, then the values
        } else {
            throw DataError("\(source): \(width) columns and none named label/labels/class/target: choose one with --label-column NAME|INDEX")
        }
        return try ClassLabels(cells: body.map { text($0.cells[index]) }, source: source, firstLine: body.first!.number)
    }
}
