import Foundation
import GSLKit

/// An IDX array of unsigned bytes (the MNIST / Fashion-MNIST format): big-endian header
/// `00 00 08 NDIM`, NDIM big-endian int32 sizes, then the uint8 payload in C order.
public struct IDXArray: Sendable, Equatable {
    /// Sizes of each dimension (shape[0] = number of items).
    public let shape: [Int]
    /// The payload, `shape.reduce(1, *)` bytes.
    public let bytes: [UInt8]

    /// Number of items (rows): `shape[0]`.
    public var count: Int { shape[0] }
    /// Bytes per item: the product of the remaining sizes (1 for a 1-D array).
    public var itemLength: Int { shape.dropFirst().reduce(1, *) }

    /// Items `indices` (in that order) as an `indices.count × itemLength` matrix of `x · scale`.
    public func matrix(rows indices: [Int]? = nil, scale: Double = 1) -> Matrix<Double> {
        let len = itemLength
        let rows = indices ?? Array(0..<count)
        var storage = [Double](repeating: 0, count: rows.count * len)
        for (r, i) in rows.enumerated() {
            let src = i * len, dst = r * len
            for j in 0..<len { storage[dst + j] = Double(bytes[src + j]) * scale }
        }
        return Matrix(rows: rows.count, columns: len, storage: storage)
    }
}

/// Reads IDX files, gzip-compressed or raw.
public enum IDXLoader {
    /// Parses an IDX file (uint8 payload only). Throws `DataError` on a missing file, bad magic,
    /// unsupported element type, zero dimensions, or a payload shorter or longer than the header says.
    public static func readArray(path: String) throws -> IDXArray {
        let data: [UInt8]
        do { data = try GzipReader.read(path: path) } catch { throw DataError(error) }
        return try parse(data, path: path)
    }

    /// Parses IDX bytes; `path` only names the source in error messages.
    public static func parse(_ data: [UInt8], path: String) throws -> IDXArray {
        let (shape, total, headerLength) = try header(data, path: path)
        try checkPayload(data.count - headerLength, total: total, shape: shape, path: path)
        return IDXArray(shape: shape, bytes: Array(data[headerLength...]))
    }

    /// The shape, element count and header length from the first bytes of an IDX file (all of
    /// it if shorter than the header). Throws on an empty or truncated header, bad magic, an
    /// element type other than uint8, 0 dimensions, a size of 0, or a shape too large.
    static func header(_ data: [UInt8], path: String) throws -> (shape: [Int], total: Int, headerLength: Int) {
        guard !data.isEmpty else { throw DataError("\(path): empty file") }
        guard data.count >= 4 else { throw DataError("\(path): truncated IDX header (\(data.count) bytes)") }
        guard data[0] == 0, data[1] == 0 else {
            throw DataError("\(path): bad IDX magic \(hex(data[0..<4])) (expected 00 00 08 NDIM)")
        }
        guard data[2] == 0x08 else {
            let names: [UInt8: String] = [0x09: "int8", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
            let t = names[data[2]].map { "\($0) (0x\(hex(data[2..<3])))" } ?? "unknown type 0x\(hex(data[2..<3]))"
            throw DataError("\(path): IDX element type \(t) not supported (only uint8, 0x08)")
        }
        let ndim = Int(data[3])
        guard ndim >= 1 else { throw DataError("\(path): IDX header declares 0 dimensions") }
        let headerLength = 4 + 4 * ndim
        guard data.count >= headerLength else {
            throw DataError("\(path): truncated IDX header (\(data.count) bytes, need \(headerLength) for \(ndim) dimensions)")
        }
        var shape: [Int] = []
        var total = 1
        for k in 0..<ndim {
            let o = 4 + 4 * k
            let size = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            guard size >= 1 else { throw DataError("\(path): IDX dimension \(k) has size 0") }
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow, product <= Int(Int32.max) * 64 else { throw DataError("\(path): IDX shape too large") }
            total = product
            shape.append(size)
        }
        return (shape, total, headerLength)
    }

    static func checkPayload(_ payload: Int, total: Int, shape: [Int], path: String) throws {
        guard payload >= total else {
            throw DataError("\(path): truncated IDX payload: \(payload) bytes, shape \(shape) needs \(total)")
        }
        guard payload == total else {
            throw DataError("\(path): IDX payload has \(payload - total) trailing bytes beyond shape \(shape)")
        }
    }

    /// Decodes an IDX file straight into its final matrix: one row per selected item, each
    /// byte b becoming `Double(b) * scale` (the same double as `IDXArray.matrix(scale:)`), in one
    /// streaming pass — the file is gunzipped in chunks of about 1 MB and never held whole, so the
    /// only large allocation is the result. `rows` is called once with the shape read from the
    /// header and returns the items to keep (strictly ascending), or nil for all.
    ///
    /// Also returns the sequential sum, in storage order, of the matrix's elements (what
    /// `Dataset.scalarMean` would add up), so a caller centring the data saves a pass.
    /// Throws the errors of `readArray` (same messages), and `DataError` for rows out of range or
    /// not ascending.
    public static func readMatrix(path: String, scale: Double = 1,
                                  rows: ([Int]) throws -> [Int]? = { _ in nil }) throws -> (matrix: Matrix<Double>, sum: Double, shape: [Int]) {
        guard scale.isFinite else { throw DataError("\(path): scale factor must be finite (got \(scale))") }
        do {
            let stream = try GzipStream(path: path)
            var head = try stream.read(count: 4)
            if head.count == 4 { head += try stream.read(count: 4 * Int(head[3])) }
            let (shape, total, _) = try header(head, path: path)
            let length = shape.dropFirst().reduce(1, *)
            let selected = try rows(shape)
            let count = selected?.count ?? shape[0]
            if let selected {
                var previous = -1
                for i in selected {
                    guard i > previous, i < shape[0] else {
                        throw DataError("\(path): row \(i) out of range or out of order (\(shape[0]) items, rows must ascend)")
                    }
                    previous = i
                }
            }
            var table = [Double](repeating: 0, count: 256)
            for b in 0..<256 { table[b] = Double(b) * scale }
            var (storage, sum, payload) = try stream.decodeRows(items: shape[0], length: length, selected: selected, table: table)
            if payload < total { try checkPayload(payload, total: total, shape: shape, path: path) }
            var buffer = [UInt8]()
            // Trailing bytes beyond the shape are an error, as in `parse`.
            while true {
                let got = try stream.read(into: &buffer, count: 1 << 20)
                if got == 0 { break }
                payload += got
            }
            try checkPayload(payload, total: total, shape: shape, path: path)
            try stream.finish()
            let matrix = Matrix(rows: count, columns: length, storage: consume storage)
            return (matrix, sum, shape)
        } catch let error as FileFormatError {
            throw DataError(error)
        }
    }

    /// The sequential sum (storage order) of `table[b]` over the rows `rows` (ascending) of an
    /// IDX file, streamed: equal to the sum `readMatrix` returns for a table of Double(b)·scale.
    public static func sequentialSum(path: String, rows: [Int], table: [Double]) throws -> Double {
        do {
            let stream = try GzipStream(path: path)
            var head = try stream.read(count: 4)
            if head.count == 4 { head += try stream.read(count: 4 * Int(head[3])) }
            let (shape, total, _) = try header(head, path: path)
            let (sum, payload) = try stream.sumRows(items: shape[0], length: shape.dropFirst().reduce(1, *), selected: rows, table: table)
            if payload < total { try checkPayload(payload, total: total, shape: shape, path: path) }
            return sum
        } catch let error as FileFormatError {
            throw DataError(error)
        }
    }

    /// Labels from a 1-D IDX file.
    public static func readLabels(path: String) throws -> [Int] {
        let a = try readArray(path: path)
        guard a.shape.count == 1 else { throw DataError("\(path): label file must be 1-D, has shape \(a.shape)") }
        return a.bytes.map(Int.init)
    }

    /// Images file (each item flattened to one row, values × `scale`) plus an optional labels file
    /// whose length must match.
    public static func load(images: String, labels: String? = nil, scale: Double = 1,
                            name: String? = nil) throws -> Dataset {
        let l = try labels.map { try readLabels(path: $0) }
        let (points, _, _) = try readMatrix(path: images, scale: scale) { shape in
            if let l, let labels, l.count != shape[0] {
                throw DataError("\(labels): \(l.count) labels but \(images) has \(shape[0]) items")
            }
            return nil
        }
        return try Dataset(points: points, labels: l, name: name ?? images)
    }

    /// The labels file beside an images file by the MNIST naming (`…-images-idx3-ubyte[.gz]` →
    /// `…-labels-idx1-ubyte[.gz]`), or nil if the name does not follow it.
    public static func labelsPath(forImages path: String) -> String? {
        guard let r = path.range(of: "images-idx3", options: .backwards) else { return nil }
        return path.replacingCharacters(in: r, with: "labels-idx1")
    }

    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
    }
}
