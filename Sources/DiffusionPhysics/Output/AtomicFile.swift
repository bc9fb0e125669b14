import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every output file is written under a temporary name in its final folder and renamed when
/// complete (rename is atomic within a file system): a run killed mid-write, or a full disk,
/// never leaves a partial file under the final name. Missing folders are created.
public enum AtomicFile {
    /// The temporary name used while `path` is written: hidden, in the same folder, keeping the
    /// extension (writers such as the NPY writer check it).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).tmp-\(getpid())" + (ext.isEmpty ? "" : ".\(ext)")).path
    }

    /// Creates the folder that will hold `path` (and its parents); one-line error if impossible.
    public static func createParent(of path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            if !isDir.boolValue { throw OutputError("cannot write \(path): \(dir) is not a folder") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw OutputError("cannot create folder \(dir): \(FileErrors.cause(error))")
        }
    }

    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        try replace(path) { tmp in try data.write(to: URL(fileURLWithPath: tmp)) }
    }

    /// Runs `writer` on a temporary path, checks it produced a non-empty file (unless
    /// `allowEmpty`), and renames it to `path`. On any failure the temporary file is removed and
    /// the error names `path` and the cause.
    public static func replace(_ path: String, allowEmpty: Bool = true, _ writer: (String) throws -> Void) throws {
        try createParent(of: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw OutputError("cannot write \(path): it is a folder")
        }
        let tmp = temporaryPath(for: path)
        do {
            try writer(tmp)
            let size = (try? FileManager.default.attributesOfItem(atPath: tmp)[.size] as? NSNumber)?.intValue ?? -1
            if size < 0 { throw OutputError("cannot write \(path): the file was not created") }
            if size == 0 && !allowEmpty { throw OutputError("cannot write \(path): the file came out empty") }
            if rename(tmp, path) != 0 {
                throw OutputError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } catch let e as OutputError {
            try? FileManager.default.removeItem(atPath: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw OutputError("cannot write \(path): \(FileErrors.cause(error))")
        }
    }
}

/// Foundation and POSIX errors as one short cause ("no space left on device", "permission
/// denied"), never an `NSCocoaErrorDomain error 512` dump.
public enum FileErrors {
    public static func cause(_ error: Error) -> String {
        if let e = error as? OutputError { return e.message }
        if let e = error as? ModelError { return e.message }
        if let e = error as? DataError { return e.message }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
            case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
            case .fileWriteOutOfSpace: return "no space left on device"
            case .fileWriteVolumeReadOnly: return "read-only file system"
            case .fileWriteFileExists: return "file exists"
            case .fileReadCorruptFile: return "the file is damaged or not in the expected format"
            case .fileReadInapplicableStringEncoding: return "the file is not UTF-8 text"
            default: break
            }
        }
        let text = ns.localizedDescription
        return text.split(separator: "\n").first.map(String.init) ?? text
    }
}
