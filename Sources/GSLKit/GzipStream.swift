import CZlib
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A gzip (or raw) file read piece by piece through zlib's `gzread`, for loaders that decode
/// straight into their final buffer instead of holding the whole decompressed file
/// (`GzipReader.read` returns it all at once).
///
/// Errors are those of `GzipReader`: a missing or unreadable file, corrupt data, and — reported
/// by `finish()` — a stream that ends mid-member.
public final class GzipStream: @unchecked Sendable {  // one reader at a time (decodeRows hands it to its helper)
    public let path: String
    private var file: gzFile?
    private var failure: FileFormatError?

    public init(path: String) throws(FileFormatError) {
        self.path = path
        errno = 0
        guard let f = gzopen(path, "rb") else {
            throw FileFormatError(path: path, reason: errno != 0 ? String(cString: strerror(errno)) : "cannot open")
        }
        _ = gzbuffer(f, UInt32(1 << 17))
        file = f
    }

    deinit { if let file { gzclose_r(file) } }

    /// Reads up to `count` bytes into `buffer[0..<count]` (growing it if needed); returns how
    /// many were read (fewer only at the end of the data). Throws on corrupt or truncated gzip data.
    public func read(into buffer: inout [UInt8], count: Int) throws(FileFormatError) -> Int {
        if let failure { throw failure }
        guard let file else { return 0 }
        if buffer.count < count { buffer.append(contentsOf: repeatElement(0, count: count - buffer.count)) }
        var got = 0
        while got < count {
            let want = UInt32(min(GzipReader.chunk, count - got))
            let n = buffer.withUnsafeMutableBytes { raw in gzread(file, raw.baseAddress! + got, want) }
            if n < 0 {
                let error = FileFormatError(path: path, reason: Self.errorText(file, path: path) ?? "read error")
                failure = error
                throw error
            }
            if n == 0 { break }
            got += Int(n)
        }
        if got < count { try finish() }
        return got
    }

    /// Reads exactly `count` bytes, or returns what there was (fewer) at the end of the data.
    public func read(count: Int) throws(FileFormatError) -> [UInt8] {
        var out = [UInt8]()
        let n = try read(into: &out, count: count)
        out.removeLast(out.count - n)
        return out
    }

    /// Reads `items` rows of `length` bytes and decodes the rows listed in `selected` (strictly
    /// ascending, all < items; nil: every row) straight into a new array, byte b becoming
    /// `table[b]`: one pass, the file gunzipped in chunks of about 1 MB, the array allocated once
    /// and never zero-filled. Also returns the sequential sum of the values in array order and
    /// the number of bytes read (less than items·length if the data end early; the array then
    /// holds only the rows completed).
    ///
    /// With `Threads.workers` ≥ 2 one helper thread inflates the next chunks while this one
    /// decodes (three 1 MB buffers in flight); the result does not depend on it.
    public func decodeRows(items: Int, length: Int, selected: [Int]?, table: [Double])
        throws(FileFormatError) -> (values: [Double], sum: Double, bytesRead: Int) {
        precondition(table.count == 256, "decodeRows needs a 256-entry table")
        precondition(items >= 0 && length >= 1)
        let count = selected?.count ?? items
        let rowsPerChunk = max(1, (1 << 20) / length)
        let chunks = (items + rowsPerChunk - 1) / rowsPerChunk
        let pipe = ChunkPipe(slots: Threads.workers >= 2 && chunks > 1 ? 3 : 1, bytes: rowsPerChunk * length)
        // Chunk c holds rows [c·rowsPerChunk, …); the producer stops after a short read or an error.
        let produce: @Sendable (Int) -> Bool = { [self] c in
            let slot = pipe.slots[c % pipe.slots.count]
            let want = min(rowsPerChunk, items - c * rowsPerChunk) * length
            do throws(FileFormatError) {
                slot.count = try read(into: &slot.bytes, count: want)
            } catch {
                slot.count = 0
                slot.error = error
            }
            return slot.error == nil && slot.count == want
        }
        let helper = pipe.slots.count > 1
        if helper {
            DispatchQueue.global().async {
                for c in 0..<chunks {
                    pipe.empty.wait()
                    let more = produce(c)
                    pipe.filled.signal()
                    if !more { break }
                }
                pipe.done.signal()
            }
        }
        var sum = 0.0, bytesRead = 0
        var failure: FileFormatError? = nil
        let values = [Double](unsafeUninitializedCapacity: count * length) { out, initialized in
            var next = 0, written = 0
            table.withUnsafeBufferPointer { t in
                for c in 0..<chunks {
                    if helper { pipe.filled.wait() } else { _ = produce(c) }
                    let slot = pipe.slots[c % pipe.slots.count]
                    let want = min(rowsPerChunk, items - c * rowsPerChunk) * length
                    if let error = slot.error { failure = error; break }
                    bytesRead += slot.count
                    let first = c * rowsPerChunk
                    slot.bytes.withUnsafeBufferPointer { src in
                        for r in 0..<(slot.count / length) {
                            if let selected {
                                guard next < selected.count, selected[next] == first + r else { continue }
                                next += 1
                            }
                            var s = sum
                            let dst = out.baseAddress! + written * length, row = src.baseAddress! + r * length
                            for j in 0..<length {
                                let v = t[Int(row[j])]
                                (dst + j).initialize(to: v)
                                s += v
                            }
                            sum = s
                            written += 1
                        }
                    }
                    if helper { pipe.empty.signal() }
                    if slot.count < want { break }
                }
            }
            initialized = written * length
        }
        if helper {
            // Let the producer finish (it stops at the first short read or error), then wait for it.
            for _ in 0..<pipe.slots.count { pipe.empty.signal() }
            pipe.done.wait()
        }
        if let failure { throw failure }
        return (values, sum, bytesRead)
    }

    /// The sequential sum (row order, element order) of `table[b]` over the bytes of the rows
    /// listed in `selected` (strictly ascending; nil: all) among the next `items` rows of
    /// `length` bytes — what `decodeRows` would return as its sum, without storing the values.
    /// Also returns the bytes read (fewer than items·length if the data end early).
    public func sumRows(items: Int, length: Int, selected: [Int]?, table: [Double])
        throws(FileFormatError) -> (sum: Double, bytesRead: Int) {
        precondition(table.count == 256 && length >= 1)
        let rowsPerChunk = max(1, (1 << 20) / length)
        var buffer = [UInt8](repeating: 0, count: rowsPerChunk * length)
        var s = 0.0, bytesRead = 0, next = 0, item = 0
        while item < items {
            let k = min(rowsPerChunk, items - item)
            let got = try read(into: &buffer, count: k * length)
            bytesRead += got
            table.withUnsafeBufferPointer { t in
                buffer.withUnsafeBufferPointer { src in
                    for r in 0..<(got / length) {
                        if let selected {
                            guard next < selected.count, selected[next] == item + r else { continue }
                            next += 1
                        }
                        let row = src.baseAddress! + r * length
                        for j in 0..<length { s += t[Int(row[j])] }
                    }
                }
            }
            if got < k * length { break }
            item += k
        }
        return (s, bytesRead)
    }

    /// Closes the file, reporting a truncated or corrupt gzip stream. Idempotent.
    public func finish() throws(FileFormatError) {
        if let failure { throw failure }
        guard let f = file else { return }
        file = nil
        var status: Int32 = Z_OK
        _ = gzerror(f, &status)
        let closeStatus = gzclose_r(f)
        var error: FileFormatError? = nil
        if status == Z_BUF_ERROR || closeStatus == Z_BUF_ERROR {
            error = FileFormatError(path: path, reason: "truncated gzip stream (unexpected end of file)")
        } else if status != Z_OK || closeStatus != Z_OK {
            error = FileFormatError(path: path, reason: "gzip error (zlib status \(status != Z_OK ? status : closeStatus))")
        }
        if let error {
            failure = error
            throw error
        }
    }

    private static func errorText(_ file: gzFile, path: String) -> String? {
        var status: Int32 = 0
        guard let message = gzerror(file, &status) else { return nil }
        if status == Z_ERRNO { return String(cString: strerror(errno)) }
        var text = String(cString: message)
        if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }
        switch status {
        case Z_DATA_ERROR: return "corrupt gzip data" + (text.isEmpty ? "" : " (\(text))")
        case Z_BUF_ERROR: return "truncated gzip stream (unexpected end of file)"
        default: return text.isEmpty ? "zlib error \(status)" : text
        }
    }
}

/// Buffers handed between the inflating helper thread and the decoding thread of
/// `GzipStream.decodeRows`: `empty` counts free slots, `filled` full ones; a slot is touched by
/// one thread at a time, ordered by the semaphores.
private final class ChunkPipe: @unchecked Sendable {
    final class Slot: @unchecked Sendable {
        var bytes: [UInt8]
        var count = 0
        var error: FileFormatError? = nil
        init(bytes: Int) { self.bytes = [UInt8](repeating: 0, count: bytes) }
    }
    let slots: [Slot]
    let empty: DispatchSemaphore
    let filled = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    init(slots: Int, bytes: Int) {
        self.slots = (0..<slots).map { _ in Slot(bytes: bytes) }
        empty = DispatchSemaphore(value: slots)
    }
}

/// The bulk loops of the data loaders, over whole arrays (no per-element bounds checks).
public enum ArrayKernels {
    /// `out[offset + k] = table[Int(bytes[start + k])]` for k in 0..<count, and adds the written
    /// values to `sum` one after another in that order (so the sum is the same sequential sum a
    /// later pass over `out` would give). `table` has 256 entries.
    public static func expandBytes(_ bytes: [UInt8], start: Int, count: Int, table: [Double],
                                   into out: inout [Double], at offset: Int, sum: inout Double) {
        precondition(table.count == 256, "expandBytes needs a 256-entry table")
        precondition(start >= 0 && count >= 0 && start + count <= bytes.count, "byte range out of bounds")
        precondition(offset >= 0 && offset + count <= out.count, "destination range out of bounds")
        var s = sum
        bytes.withUnsafeBufferPointer { src in
            table.withUnsafeBufferPointer { t in
                out.withUnsafeMutableBufferPointer { dst in
                    for k in 0..<count {
                        let v = t[Int(src[start + k])]
                        dst[offset + k] = v
                        s += v
                    }
                }
            }
        }
        sum = s
    }

    /// Subtracts `shift` from every element in place and returns the sequential sum (element
    /// order) of the results: one pass of "subtract the mean, then sum for the new mean".
    public static func subtractAndSum(_ shift: Double, from values: inout [Double]) -> Double {
        var s = 0.0
        values.withUnsafeMutableBufferPointer { v in
            for i in v.indices {
                let x = v[i] - shift
                v[i] = x
                s += x
            }
        }
        return s
    }

    /// Subtracts `shift` from every element in place.
    public static func subtract(_ shift: Double, from values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] -= shift }
        }
    }

    /// The sequential sum (element order) of `values[i] − shift`, without writing anything.
    public static func sumOfDifferences(_ values: [Double], minus shift: Double) -> Double {
        var s = 0.0
        values.withUnsafeBufferPointer { v in for x in v { s += x - shift } }
        return s
    }

    /// `values[i] = (values[i] − first) − second` in place: two subtractions, each rounded, in
    /// one pass (bit-identical to subtracting `first` everywhere, then `second`).
    public static func subtract(_ first: Double, then second: Double, from values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { v in
            for i in v.indices { v[i] = (v[i] - first) - second }
        }
    }

    /// The sequential sum of `values` in element order.
    public static func sum(_ values: [Double]) -> Double {
        var s = 0.0
        values.withUnsafeBufferPointer { v in for x in v { s += x } }
        return s
    }
}
