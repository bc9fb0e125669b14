import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A malformed, missing or unreadable input file. One-line message that names the path.
public struct FileFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// Whole-file reads through zlib's `gzopen`/`gzread`, which decompress gzip files and pass
/// other files through unchanged (Foundation has no gunzip on Linux).
public enum GzipReader {
    /// Bytes per `gzread` call; its length argument is a 32-bit `unsigned`.
    static let chunk = 1 << 22

    /// The decompressed contents of `path` (gzip or raw).
    /// Throws `FileFormatError` if the file is missing or unreadable, the gzip data are corrupt,
    /// or the gzip stream is truncated.
    public static func read(path: String) throws(FileFormatError) -> [UInt8] {
        errno = 0
        guard let file = gzopen(path, "rb") else {
            let reason = errno != 0 ? String(cString: strerror(errno)) : "cannot open"
            throw FileFormatError(path: path, reason: reason)
        }
        _ = gzbuffer(file, UInt32(1 << 17))
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        var readError: String? = nil
        while true {
            let got = buffer.withUnsafeMutableBytes { raw in
                gzread(file, raw.baseAddress, UInt32(raw.count))
            }
            if got < 0 {
                readError = errorText(file, path: path) ?? "read error"
                break
            }
            if got == 0 { break }
            out.append(contentsOf: buffer[0..<Int(got)])
        }
        // A stream that ends mid-member is reported as Z_BUF_ERROR by gzerror / gzclose_r.
        var status: Int32 = Z_OK
        _ = gzerror(file, &status)
        let pending = status
        let closeStatus = gzclose_r(file)
        if let readError { throw FileFormatError(path: path, reason: readError) }
        if pending == Z_BUF_ERROR || closeStatus == Z_BUF_ERROR {
            throw FileFormatError(path: path, reason: "truncated gzip stream (unexpected end of file)")
        }
        if pending != Z_OK || closeStatus != Z_OK {
            throw FileFormatError(path: path, reason: "gzip error (zlib status \(pending != Z_OK ? pending : closeStatus))")
        }
        return out
    }

    private static func errorText(_ file: gzFile, path: String) -> String? {
        var status: Int32 = 0
        guard let message = gzerror(file, &status) else { return nil }
        if status == Z_ERRNO { return String(cString: strerror(errno)) }
        var text = String(cString: message)
        if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }   // zlib prefixes the path
        switch status {
        case Z_DATA_ERROR: return "corrupt gzip data" + (text.isEmpty ? "" : " (\(text))")
        case Z_BUF_ERROR: return "truncated gzip stream (unexpected end of file)"
        default: return text.isEmpty ? "zlib error \(status)" : text
        }
    }
}

/// Whole-file gzip writes through zlib's `gzopen`/`gzwrite`.
public enum GzipWriter {
    /// Writes `bytes` gzip-compressed to `path` (replacing it).
    public static func write(_ bytes: [UInt8], to path: String) throws(FileFormatError) {
        errno = 0
        guard let file = gzopen(path, "wb") else {
            throw FileFormatError(path: path, reason: errno != 0 ? String(cString: strerror(errno)) : "cannot open for writing")
        }
        var offset = 0
        var failed = false
        while offset < bytes.count && !failed {
            let n = min(GzipReader.chunk, bytes.count - offset)
            let wrote = bytes.withUnsafeBytes { raw in gzwrite(file, raw.baseAddress! + offset, UInt32(n)) }
            if wrote <= 0 { failed = true } else { offset += Int(wrote) }
        }
        let status = gzclose_w(file)
        if failed || status != Z_OK { throw FileFormatError(path: path, reason: "gzip write failed (zlib status \(status))") }
    }
}
