import GSLKit

/// Reads and writes NumPy `.npy` files (format versions 1–3).
///
/// Reading: little-endian float32 `<f4`, float64 `<f8`, uint8 `|u1`, int64 `<i8`; C order; 1-D
/// (n points in d = 1) or 2-D (n × d). Anything else (Fortran order, big-endian, other dtypes,
/// other ranks, structured arrays, truncated data) throws a `DataError`.
/// Writing: float64 (`<f8`) or int64 (`<i8`, for labels), version 1.0, C order.
public enum NPYLoader {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// The array in `path` as an n × d dataset (no labels).
    public static func load(path: String, name: String? = nil) throws -> Dataset {
        let bytes: [UInt8]
        do { bytes = try GzipReader.read(path: path) } catch { throw DataError(error) }
        let (rows, columns, values) = try parse(bytes, source: path)
        return try Dataset(points: Matrix(rows: rows, columns: columns, storage: values), name: name ?? path)
    }

    /// Decodes `.npy` bytes to (rows, columns, row-major values); `source` names it in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws -> (rows: Int, columns: Int, values: [Double]) {
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
            throw DataError("\(source): fortran_order=True arrays are not supported (save with C order)")
        }
        let (rows, columns): (Int, Int)
        switch header.shape.count {
        case 1: (rows, columns) = (header.shape[0], 1)
        case 2: (rows, columns) = (header.shape[0], header.shape[1])
        default: throw DataError("\(source): .npy array has \(header.shape.count) dimensions, expected 1 or 2")
        }
        var descr = Substring(header.descr)
        guard let order = descr.first, "<|=>".contains(order) else {
            throw DataError("\(source): unsupported dtype '\(header.descr)'")
        }
        descr = descr.dropFirst()
        let itemSize: Int
        switch descr {
        case "f8", "i8": itemSize = 8
        case "f4": itemSize = 4
        case "u1": itemSize = 1
        default:
            throw DataError("\(source): unsupported dtype '\(header.descr)' (supported: <f4, <f8, |u1, <i8)")
        }
        if order == ">" && itemSize > 1 { throw DataError("\(source): big-endian dtype '\(header.descr)' not supported") }
        let (count, o1) = rows.multipliedReportingOverflow(by: columns)
        let (needed, o2) = count.multipliedReportingOverflow(by: itemSize)
        guard !o1, !o2 else { throw DataError("\(source): .npy shape \(header.shape) too large") }
        let payload = bytes.count - dataStart
        guard payload >= needed else {
            throw DataError("\(source): truncated .npy data: \(payload) bytes, shape \(header.shape) of \(header.descr) needs \(needed)")
        }
        guard payload == needed else {
            throw DataError("\(source): .npy data has \(payload - needed) bytes beyond shape \(header.shape)")
        }
        var values = [Double](repeating: 0, count: count)
        switch descr {
        case "u1":
            for i in 0..<count { values[i] = Double(bytes[dataStart + i]) }
        case "f4":
            for i in 0..<count {
                let o = dataStart + 4 * i
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(bytes[o + b]) << (8 * b) }
                values[i] = Double(Float(bitPattern: bits))
            }
        default:
            let isFloat = descr == "f8"
            for i in 0..<count {
                let o = dataStart + 8 * i
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(bytes[o + b]) << (8 * b) }
                values[i] = isFloat ? Double(bitPattern: bits) : Double(Int64(bitPattern: bits))
            }
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataError("\(source): non-finite value \(values[bad]) at row \(bad / columns + 1), column \(bad % columns + 1)")
        }
        return (rows, columns, values)
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
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
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
