import GSLKit

/// A numeric N-dimensional array read from a `.npy` file: its shape and its values in C order.
public struct NPYArray: Sendable, Equatable {
    /// Sizes of each axis (at least one axis).
    public var shape: [Int]
    /// The values, row-major (C order), as float64.
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        precondition(shape.reduce(1, *) == values.count, "NPYArray: shape \(shape) does not hold \(values.count) values")
        self.shape = shape
        self.values = values
    }

    /// Number of items along the first axis.
    public var count: Int { shape[0] }

    /// The shape as numpy prints it: `(3, 4)`, `(5,)`.
    public var shapeText: String { NPYLoader.shapeText(shape) }

    /// The array as a `shape[0] × (product of the remaining axes)` matrix (trailing axes
    /// flattened in C order, so a B × C × H × W image batch becomes B × CHW).
    public var flattenedMatrix: Matrix<Double> {
        Matrix(rows: shape[0], columns: shape.dropFirst().reduce(1, *), storage: values)
    }
}

/// Reads and writes NumPy `.npy` files (format versions 1–3).
///
/// Reading: little-endian floats `<f4` `<f8`, signed and unsigned integers of 1, 2, 4 or 8 bytes,
/// booleans `|b1`; C order; any rank ≥ 1. Data sets (`load`) are 1-D (n points in d = 1) or
/// n × (d₁ × d₂ × …) with trailing axes flattened. Fortran order, big-endian multi-byte types,
/// float16, complex, object and structured arrays, 0-D arrays, non-finite values and truncated
/// data throw a one-line `DataError`. Text arrays (`<U…`, `|S…`) are read by `LabelLoader`.
/// Writing: float64 (`<f8`) or int64 (`<i8`, for labels), version 1.0, C order, atomically.
public enum NPYLoader {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// The array in `path` as an n × d dataset (no labels); axes after the first are flattened.
    public static func load(path: String, name: String? = nil) throws -> Dataset {
        let a = try readArray(path: path)
        var data = try Dataset(points: a.flattenedMatrix, name: name ?? path)
        data.imageShape = ImageShape.fromArrayShape(a.shape)
        return data
    }

    /// The numeric array in `path` (any rank ≥ 1).
    public static func readArray(path: String) throws -> NPYArray {
        let bytes: [UInt8]
        do { bytes = try GzipReader.read(path: path) } catch { throw DataError(error) }
        return try parseArray(bytes, source: path)
    }

    /// Decodes `.npy` bytes to (rows, columns, row-major values) with axes after the first
    /// flattened into the columns; `source` names it in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws -> (rows: Int, columns: Int, values: [Double]) {
        let a = try parseArray(bytes, source: source)
        let m = a.flattenedMatrix
        return (m.rows, m.columns, a.values)
    }

    /// The header and the offset where the data start.
    static func header(_ bytes: [UInt8], source: String) throws -> (header: Header, dataStart: Int) {
        guard !bytes.isEmpty else { throw DataError("\(source): empty file") }
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError("\(source): not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DataError("\(source): truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw DataError("\(source): unsupported .npy format version \(major).\(bytes[7])")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart else { throw DataError("\(source): truncated .npy header") }
        let header = try Header(String(decoding: bytes[headerStart..<dataStart], as: UTF8.self), source: source)
        guard !header.fortranOrder else {
            throw DataError("\(source): fortran_order=True arrays are not supported (save with C order: np.ascontiguousarray)")
        }
        guard !header.shape.isEmpty else {
            throw DataError("\(source): .npy array is 0-dimensional (a scalar), expected at least one axis")
        }
        return (header, dataStart)
    }

    /// Checks that the payload after `dataStart` holds exactly `shape` items of `itemSize` bytes.
    static func checkPayload(_ bytes: [UInt8], dataStart: Int, header: Header, itemSize: Int, source: String) throws -> Int {
        var count = 1
        for s in header.shape {
            let (c, o) = count.multipliedReportingOverflow(by: s)
            guard !o else { throw DataError("\(source): .npy shape \(shapeText(header.shape)) too large") }
            count = c
        }
        let (needed, o2) = count.multipliedReportingOverflow(by: itemSize)
        guard !o2 else { throw DataError("\(source): .npy shape \(shapeText(header.shape)) too large") }
        let payload = bytes.count - dataStart
        guard payload >= needed else {
            throw DataError("\(source): truncated .npy data: \(payload) bytes, shape \(shapeText(header.shape)) of \(header.descr) needs \(needed)")
        }
        guard payload == needed else {
            throw DataError("\(source): .npy data has \(payload - needed) bytes beyond shape \(shapeText(header.shape))")
        }
        return count
    }

    /// Decodes a numeric `.npy` array of any rank ≥ 1; `source` names it in errors.
    public static func parseArray(_ bytes: [UInt8], source: String) throws -> NPYArray {
        let (header, dataStart) = try header(bytes, source: source)
        var descr = Substring(header.descr)
        guard let order = descr.first, "<|=>".contains(order) else {
            throw DataError("\(source): unsupported dtype '\(header.descr)'")
        }
        descr = descr.dropFirst()
        guard let kind = descr.first, let itemSize = Int(descr.dropFirst()),
              (kind == "f" && (itemSize == 4 || itemSize == 8)) || ("iu".contains(kind) && [1, 2, 4, 8].contains(itemSize))
                || (kind == "b" && itemSize == 1) else {
            let hint = header.descr.contains("U") || header.descr.contains("S") ? " (text arrays are read as labels only)"
                : header.descr.hasSuffix("f2") ? " (convert float16 with .astype(np.float32))"
                : header.descr.contains("O") ? " (object arrays need pickle; save a numeric array)" : ""
            throw DataError("\(source): unsupported dtype '\(header.descr)' (supported: float32/64, integers, bool)\(hint)")
        }
        if order == ">" && itemSize > 1 { throw DataError("\(source): big-endian dtype '\(header.descr)' not supported (use .astype('<f8'))") }
        let count = try checkPayload(bytes, dataStart: dataStart, header: header, itemSize: itemSize, source: source)
        var values = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let o = dataStart + itemSize * i
            var bits: UInt64 = 0
            for b in 0..<itemSize { bits |= UInt64(bytes[o + b]) << (8 * b) }
            switch (kind, itemSize) {
            case ("f", 4): values[i] = Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
            case ("f", _): values[i] = Double(bitPattern: bits)
            case ("i", 1): values[i] = Double(Int8(truncatingIfNeeded: bits))
            case ("i", 2): values[i] = Double(Int16(truncatingIfNeeded: bits))
            case ("i", 4): values[i] = Double(Int32(truncatingIfNeeded: bits))
            case ("i", _): values[i] = Double(Int64(bitPattern: bits))
            default: values[i] = Double(bits)          // unsigned and bool
            }
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataError("\(source): non-finite value \(values[bad]) at index \(indexText(bad, shape: header.shape))")
        }
        return NPYArray(shape: header.shape, values: values)
    }

    /// `(3, 4)` / `(5,)`, as numpy prints shapes.
    static func shapeText(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// The multi-index `[i, j, k]` (0-based, numpy's) of flat position `flat` in `shape`.
    static func indexText(_ flat: Int, shape: [Int]) -> String {
        var rest = flat, index = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() {
            index[axis] = rest % max(shape[axis], 1)
            rest /= max(shape[axis], 1)
        }
        return "[" + index.map(String.init).joined(separator: ", ") + "]"
    }

    /// The `.npy` header dictionary: `{'descr': '<f8', 'fortran_order': False, 'shape': (n, d), }`.
    struct Header {
        var descr = ""
        var fortranOrder = false
        var shape: [Int] = []

        init(_ text: String, source: String) throws {
            var p = Parser(chars: Array(text), source: source)
            try p.expect("{")
            var seen = Set<String>()
            while true {
                p.skipSpace()
                if p.peek == "}" { break }
                let key = try p.string()
                try p.expect(":")
                switch key {
                case "descr":
                    p.skipSpace()
                    if p.peek == "[" { throw DataError("\(source): structured dtypes are not supported") }
                    descr = try p.string()
                case "fortran_order": fortranOrder = try p.bool()
                case "shape": shape = try p.tuple()
                default: throw DataError("\(source): unexpected key '\(key)' in .npy header")
                }
                seen.insert(key)
                p.skipSpace()
                if p.peek == "," { p.i += 1 } else if p.peek != "}" { throw p.fail("expected ',' or '}'") }
            }
            for k in ["descr", "fortran_order", "shape"] where !seen.contains(k) {
                throw DataError("\(source): .npy header lacks '\(k)'")
            }
        }
    }

    struct Parser {
        let chars: [Character]
        let source: String
        var i = 0
        var peek: Character? { i < chars.count ? chars[i] : nil }
        func fail(_ what: String) -> DataError { DataError("\(source): malformed .npy header: \(what) at offset \(i)") }
        mutating func skipSpace() { while let c = peek, c.isWhitespace { i += 1 } }
        mutating func expect(_ c: Character) throws {
            skipSpace()
            guard peek == c else { throw fail("expected '\(c)'") }
            i += 1
        }
        mutating func string() throws -> String {
            skipSpace()
            guard let q = peek, q == "'" || q == "\"" else { throw fail("expected a quoted string") }
            i += 1
            var s = ""
            while let c = peek, c != q { s.append(c); i += 1 }
            guard peek == q else { throw fail("unterminated string") }
            i += 1
            return s
        }
        mutating func word() -> String {
            skipSpace()
            var s = ""
            while let c = peek, c.isLetter || c.isNumber || c == "_" { s.append(c); i += 1 }
            return s
        }
        mutating func bool() throws -> Bool {
            switch word() {
            case "True": return true
            case "False": return false
            default: throw fail("expected True or False")
            }
        }
        mutating func tuple() throws -> [Int] {
            try expect("(")
            var out: [Int] = []
            while true {
                skipSpace()
                if peek == ")" { i += 1; return out }
                var w = word()
                if w.hasSuffix("L") { w.removeLast() }
                guard let v = Int(w), v >= 0 else { throw fail("expected a non-negative integer in shape") }
                out.append(v)
                skipSpace()
                if peek == "," { i += 1 } else if peek != ")" { throw fail("expected ',' or ')' in shape") }
            }
        }
    }

    /// `.npy` v1.0 bytes for a C-order array; header padded so the data start at a multiple of 64.
    static func encode(descr: String, shape: [Int], payload: [UInt8]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText(shape)), }"
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let n = dict.utf8.count
        return magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(dict.utf8) + payload
    }

    /// Writes `matrix` as a float64 `.npy` file of shape (rows, columns).
    public static func write(_ matrix: Matrix<Double>, to path: String) throws {
        var payload = [UInt8](repeating: 0, count: matrix.storage.count * 8)
        for (i, v) in matrix.storage.enumerated() {
            let bits = v.bitPattern
            for b in 0..<8 { payload[8 * i + b] = UInt8(truncatingIfNeeded: bits >> (8 * b)) }
        }
        try writeFile(encode(descr: "<f8", shape: [matrix.rows, matrix.columns], payload: payload), to: path)
    }

    /// Writes `values` (C order) as a float64 `.npy` array of shape `shape` — e.g. B × K × d
    /// trajectories for `diffphys analyze`.
    public static func write(values: [Double], shape: [Int], to path: String) throws {
        precondition(!shape.isEmpty && shape.reduce(1, *) == values.count, "NPYLoader.write: shape \(shape) does not hold \(values.count) values")
        var payload = [UInt8](repeating: 0, count: values.count * 8)
        for (i, v) in values.enumerated() {
            let bits = v.bitPattern
            for b in 0..<8 { payload[8 * i + b] = UInt8(truncatingIfNeeded: bits >> (8 * b)) }
        }
        try writeFile(encode(descr: "<f8", shape: shape, payload: payload), to: path)
    }

    /// Writes text labels as a numpy unicode array `<U{width}` (what `np.save` writes for a list
    /// of Python strings).
    public static func write(textLabels: [String], to path: String) throws {
        let width = max(1, textLabels.map { $0.unicodeScalars.count }.max() ?? 1)
        var payload: [UInt8] = []
        payload.reserveCapacity(textLabels.count * width * 4)
        for s in textLabels {
            let scalars = Array(s.unicodeScalars)
            for k in 0..<width {
                let v = k < scalars.count ? scalars[k].value : 0
                for b in 0..<4 { payload.append(UInt8(truncatingIfNeeded: v >> (8 * b))) }
            }
        }
        try writeFile(encode(descr: "<U\(width)", shape: [textLabels.count], payload: payload), to: path)
    }

    /// Writes integer labels as an int64 `.npy` vector.
    public static func write(labels: [Int], to path: String) throws {
        var payload = [UInt8](repeating: 0, count: labels.count * 8)
        for (i, v) in labels.enumerated() {
            let bits = UInt64(bitPattern: Int64(v))
            for b in 0..<8 { payload[8 * i + b] = UInt8(truncatingIfNeeded: bits >> (8 * b)) }
        }
        try writeFile(encode(descr: "<i8", shape: [labels.count], payload: payload), to: path)
    }
}

extension Dataset {
    /// Writes the points as a float64 `.npy` (n × d); labels, if any and `labelsPath` is given,
    /// as an int64 `.npy` vector.
    public func writeNPY(to path: String, labelsPath: String? = nil) throws {
        try NPYLoader.write(points, to: path)
        if let labelsPath, let labels { try NPYLoader.write(labels: labels, to: labelsPath) }
    }
}

extension Matrix where Scalar == Double {
    /// Writes the matrix as a float64 `.npy` file.
    public func writeNPY(to path: String) throws { try NPYLoader.write(self, to: path) }
}
