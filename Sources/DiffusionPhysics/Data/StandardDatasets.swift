import Foundation
import GSLKit

/// Finds the package's `Data/` folder (shipped data such as the 8×8 digits).
public enum DataDirectory {
    /// Environment variable overriding the search: the `Data/` folder itself, or its parent.
    public static let environmentVariable = "DIFFPHYS_DATA"

    /// The `Data/` directory containing `relative`: `$DIFFPHYS_DATA` if set, else the first
    /// ancestor of the current directory, then of the executable's directory, holding `Data/<relative>`.
    public static func locate(containing relative: String = "digits/digits.csv.gz") throws -> String {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty {
            for candidate in [env, env + "/Data"] where fm.fileExists(atPath: candidate + "/" + relative) {
                return candidate
            }
            throw DataError("\(environmentVariable)=\(env): neither it nor \(env)/Data contains \(relative)")
        }
        var starts = [fm.currentDirectoryPath]
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        starts.append(exe.deletingLastPathComponent().path)
        if let arg0 = CommandLine.arguments.first, arg0.contains("/") {
            starts.append(URL(fileURLWithPath: arg0).resolvingSymlinksInPath().deletingLastPathComponent().path)
        }
        for start in starts {
            var dir = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let candidate = dir.appendingPathComponent("Data").path
                if fm.fileExists(atPath: candidate + "/" + relative) { return candidate }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        throw DataError("Data/\(relative) not found above \(starts[0]) or the executable; set \(environmentVariable) to the package's Data folder")
    }
}

/// Fashion-MNIST from the Debian package `dataset-fashion-mnist` (Docs/Theory.md §4.2).
public enum FashionMNIST {
    public enum Split: String, Sendable, Equatable, CaseIterable {
        case train, test
        /// File prefix: `train` or `t10k`.
        public var filePrefix: String { self == .train ? "train" : "t10k" }
    }

    /// Environment variable overriding `defaultDirectory`.
    public static let environmentVariable = "DIFFPHYS_FASHION_MNIST"
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public static var directory: String {
        ProcessInfo.processInfo.environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? defaultDirectory
    }

    /// Paths of the (images, labels) files of `split`.
    public static func paths(_ split: Split) -> (images: String, labels: String) {
        let base = directory + "/" + split.filePrefix
        return (base + "-images-idx3-ubyte.gz", base + "-labels-idx1-ubyte.gz")
    }

    /// True if both files of `split` exist.
    public static func isAvailable(_ split: Split = .train) -> Bool {
        let p = paths(split)
        return FileManager.default.fileExists(atPath: p.images) && FileManager.default.fileExists(atPath: p.labels)
    }

    /// Rows selected by `preprocessing` (classes, first k per class, subsample; file order),
    /// times its scale (x/255 for the spec), centred — the same matrix as `preprocessing.apply`
    /// on the whole file, built lean: the labels choose the rows first, then the images are
    /// gunzipped in chunks and only the chosen rows are decoded, straight into the final buffer,
    /// and centred in place. Peak memory is the n × 784 doubles plus about 1 MB.
    public static func load(split: Split = .train, preprocessing: Preprocessing, seed: UInt64 = 0,
                            name: String? = nil) throws -> Dataset {
        let p = paths(split)
        let labels = try IDXLoader.readLabels(path: p.labels)
        var keep: [Int] = []
        let (points, sum, _) = try IDXLoader.readMatrix(path: p.images, scale: preprocessing.scale) { shape in
            guard shape[0] == labels.count else {
                throw DataError("\(p.labels): \(labels.count) labels but \(p.images) has \(shape[0]) images")
            }
            keep = try preprocessing.selectedRows(labels: labels, count: labels.count, source: p.images, seed: seed)
            return keep
        }
        // Every value is Double(b)·scale for a byte b, so the matrix is finite iff 255·scale is:
        // checked here instead of by `Dataset.init`'s pass over all n·d values (validated on a
        // one-row stand-in, then the full matrix and labels take its place).
        let last = 255 * preprocessing.scale
        guard last.isFinite else { throw DataError("\(p.images): scale \(preprocessing.scale) makes pixel values non-finite") }
        var data = try Dataset(points: Matrix(rows: 1, columns: points.columns), labels: [labels[keep.first ?? 0]],
                               name: name ?? "fashion-mnist \(split.rawValue)")
        guard points.rows >= 1 else { throw DataError("\(data.name): dataset has no points (n = 0)") }
        data.points = consume points
        data.labels = keep.map { labels[$0] }
        try data.centre(preprocessing.centering, sum: sum)
        return data
    }
}

extension FashionMNIST {
    /// Rows `part(m)` of the m rows `load(split:preprocessing:seed:)` would give, bit-identical to
    /// those rows of it, materialising only them (a rank's slice of a sharded training set).
    /// Scalar centring needs the mean of all m rows: two extra streaming passes over the file
    /// compute the same two sequential sums the full load takes, without storing anything.
    /// Per-feature centring loads everything and keeps the slice.
    public static func loadSlice(split: Split = .train, preprocessing: Preprocessing, seed: UInt64 = 0, name: String? = nil,
                                 part: (Int) -> Range<Int>) throws -> (data: Dataset, total: Int, rows: Range<Int>) {
        let p = paths(split)
        let labels = try IDXLoader.readLabels(path: p.labels)
        let keep = try preprocessing.selectedRows(labels: labels, count: labels.count, source: p.images, seed: seed)
        let range = part(keep.count)
        guard range.lowerBound >= 0, range.upperBound <= keep.count, !range.isEmpty else {
            throw DataError("\(p.images): slice \(range) of \(keep.count) rows is empty or out of range")
        }
        if preprocessing.centering == .perFeature {
            let all = try load(split: split, preprocessing: preprocessing, seed: seed, name: name)
            return (try all.rows(Array(range)), keep.count, range)
        }
        let sub = Array(keep[range])
        let (points, _, shape) = try IDXLoader.readMatrix(path: p.images, scale: preprocessing.scale) { shape in
            guard shape[0] == labels.count else {
                throw DataError("\(p.labels): \(labels.count) labels but \(p.images) has \(shape[0]) images")
            }
            return sub
        }
        guard (255 * preprocessing.scale).isFinite else { throw DataError("\(p.images): scale \(preprocessing.scale) makes pixel values non-finite") }
        var data = try Dataset(points: Matrix(rows: 1, columns: points.columns), labels: [labels[sub[0]]],
                               name: name ?? "fashion-mnist \(split.rawValue)")
        data.points = consume points
        data.labels = sub.map { labels[$0] }
        if preprocessing.centering == .scalarMean {
            let count = Double(keep.count * shape.dropFirst().reduce(1, *))
            var table = (0..<256).map { Double($0) * preprocessing.scale }
            let m1 = try IDXLoader.sequentialSum(path: p.images, rows: keep, table: table) / count
            table = table.map { $0 - m1 }
            let m2 = try IDXLoader.sequentialSum(path: p.images, rows: keep, table: table) / count
            ArrayKernels.subtract(m1, then: m2, from: &data.points.storage)
        }
        return (data, keep.count, range)
    }
}

/// The 8×8 handwritten digits (1797 × 64, values 0…16; UCI optdigits via scikit-learn),
/// shipped as `Data/digits/digits.csv.gz` (64 pixel columns + label, no header).
public enum Digits {
    /// All 1797 rows, unscaled, labelled 0…9.
    public static func loadAll() throws -> Dataset {
        let dir = try DataDirectory.locate(containing: "digits/digits.csv.gz")
        return try CSVLoader.load(path: dir + "/digits/digits.csv.gz", label: .last, header: false, name: "digits")
    }

    /// Selected rows, scaled and centred by `preprocessing` (Docs/Theory.md §4.2: x/16, scalar-centred).
    public static func load(preprocessing: Preprocessing, seed: UInt64 = 0) throws -> Dataset {
        try preprocessing.apply(to: loadAll(), seed: seed)
    }
}
