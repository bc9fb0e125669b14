import Foundation

/// Everything that determines the rows of a resumable output folder (memorization-map,
/// reproduce): data spec and a content hash of file data, seed, sizes, quick/full, study
/// parameters, program version. Stored as `manifest.json` in the folder before the first row;
/// a rerun with a different manifest refuses (one line naming the differing fields) unless it
/// starts over (`--fresh`), so rows of two runs can never mix.
public struct RunManifest: Equatable, Sendable {
    /// Field name → value, compared as text.
    public var fields: [String: String]

    /// Version of the row-producing code; bump when rows change meaning (v2: tS is the primary ½ ln(1 + Λ)).
    public static let programVersion = "diffphys 1 (rows v2)"

    public static let fileName = "manifest.json"

    public init(_ fields: [String: String]) {
        var f = fields
        f["program"] = f["program"] ?? Self.programVersion
        self.fields = f
    }

    /// Fields that differ from `other` (present in either), sorted.
    public func differences(from other: RunManifest) -> [String] {
        Set(fields.keys).union(other.fields.keys).filter { fields[$0] != other.fields[$0] }.sorted()
    }

    /// Claims `directory` for this run. If it holds a manifest: equal → resume; different →
    /// throw naming the differing fields (the folder is untouched). If it holds any of `rowFiles`
    /// without a manifest → throw (rows of unknown origin). With `fresh`, the manifest and
    /// `rowFiles` are removed first. Writes the manifest atomically when absent.
    public func claim(directory: String, rowFiles: [String], fresh: Bool) throws {
        let fm = FileManager.default
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        if fresh {
            for f in rowFiles + [Self.fileName] {
                let p = (directory as NSString).appendingPathComponent(f)
                if fm.fileExists(atPath: p) {
                    do { try fm.removeItem(atPath: p) } catch { throw OutputError("cannot remove \(p): \(FileErrors.cause(error))") }
                }
            }
        }
        if let data = fm.contents(atPath: path) {
            guard let stored = (try? JSONSerialization.jsonObject(with: data)) as? [String: String] else {
                throw OutputError("\(path) is damaged; use --fresh to start over or choose another folder")
            }
            let diff = differences(from: RunManifest(stored))
            if !diff.isEmpty {
                let detail = diff.map { "\($0) \(stored[$0] ?? "–") → \(fields[$0] ?? "–")" }.joined(separator: "; ")
                throw OutputError("\(directory) holds a run with other settings (\(detail)); use --fresh to start over or choose another folder")
            }
            return
        }
        for f in rowFiles where fm.fileExists(atPath: (directory as NSString).appendingPathComponent(f)) {
            throw OutputError("\(directory)/\(f) exists without a \(Self.fileName) (made by another version or run); use --fresh to start over or choose another folder")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(try encoder.encode(fields), to: path)
    }

    /// FNV-1a 64-bit hash of a file's bytes, as 16 hex digits (detects changed data files).
    public static func contentHash(ofFile path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw OutputError("cannot read \(path) to hash it") }
        return contentHash(data)
    }

    /// FNV-1a 64-bit hash of bytes.
    public static func contentHash(_ data: Data) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return String(format: "%016llx", h)
    }
}

extension DatasetSpec {
    /// Manifest fields of a data spec: its text, and for a file spec the content hashes of the
    /// data file and of its labels file.
    public func manifestFields() throws -> [String: String] {
        var f = ["data": description]
        if case .file(let path, let labels, _) = self {
            f["dataHash"] = try RunManifest.contentHash(ofFile: path)
            if let labels { f["labelsHash"] = try RunManifest.contentHash(ofFile: labels) }
        }
        return f
    }
}
