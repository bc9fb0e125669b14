import GSLKit

/// A malformed dataset, file or specification. One-line `message`, naming the file or key.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension DataError {
    /// Converts GSLKit's file error (missing file, corrupt or truncated gzip) into a `DataError`.
    init(_ error: FileFormatError) { self.init(error.description) }
}

/// A finite data set: n points a_μ ∈ ℝᵈ (Docs/Theory.md §0), optionally with a class label per point.
public struct Dataset: Sendable, Equatable {
    /// n × d, row μ is the point a_μ.
    public var points: Matrix<Double>
    /// Class label of each row, or nil.
    public var labels: [Int]?
    /// Names of the classes when the labels were text (`classNames[c]` is the name of label c,
    /// labels then run over 0..<classNames.count in sorted name order); nil for integer labels.
    /// Carried into outputs so a user sees "cat", not 0 ([YourData.md](../../Docs/YourData.md)).
    public var classNames: [String]?
    /// Human-readable origin (a spec's canonical text, a file name).
    public var name: String
    /// H × W × C when the points are images (Fashion-MNIST, digits, n × H × W[× C] arrays, or
    /// `--image-shape`); nil otherwise (Docs/LocalScores.md §0).
    public var imageShape: ImageShape? = nil

    public var n: Int { points.rows }
    public var d: Int { points.columns }

    /// Validates n ≥ 1, d ≥ 1, every coordinate finite, `labels.count == n`, and (with
    /// `classNames`) labels in 0..<classNames.count.
    public init(points: Matrix<Double>, labels: [Int]? = nil, classNames: [String]? = nil, name: String) throws {
        guard points.rows >= 1 else { throw DataError("\(name): dataset has no points (n = 0)") }
        guard points.columns >= 1 else { throw DataError("\(name): points have dimension d = 0") }
        if let bad = points.storage.firstIndex(where: { !$0.isFinite }) {
            let (r, c) = bad.quotientAndRemainder(dividingBy: points.columns)
            throw DataError("\(name): non-finite value \(points.storage[bad]) at row \(r + 1), column \(c + 1)")
        }
        if let labels, labels.count != points.rows {
            throw DataError("\(name): \(labels.count) labels for \(points.rows) points")
        }
        if let classNames {
            guard let labels else { throw DataError("\(name): class names given without labels") }
            if let bad = labels.first(where: { $0 < 0 || $0 >= classNames.count }) {
                throw DataError("\(name): label \(bad) has no class name (\(classNames.count) names)")
            }
        }
        self.points = points
        self.labels = labels
        self.classNames = classNames
        self.name = name
    }

    /// The printable name of class `label`: its text name if the labels were text, else the number.
    public func className(_ label: Int) -> String {
        if let classNames, label >= 0, label < classNames.count { return classNames[label] }
        return String(label)
    }

    /// Sorted distinct labels ([] if unlabelled).
    public var classes: [Int] { labels.map { Array(Set($0)).sorted() } ?? [] }

    /// Number of rows carrying each label (empty if unlabelled).
    public var classCounts: [Int: Int] {
        var counts: [Int: Int] = [:]
        for l in labels ?? [] { counts[l, default: 0] += 1 }
        return counts
    }

    /// Mean of all n·d coordinates.
    public var scalarMean: Double {
        var s = 0.0
        for v in points.storage { s += v }
        return s / Double(points.storage.count)
    }

    /// Per-feature mean (length d).
    public var featureMeans: [Double] {
        var m = [Double](repeating: 0, count: d)
        for i in 0..<n {
            let base = i * d
            for j in 0..<d { m[j] += points.storage[base + j] }
        }
        return m.map { $0 / Double(n) }
    }

    /// The rows at `indices` (in that order), with their labels.
    public func rows(_ indices: [Int]) throws -> Dataset {
        var out = try Dataset(points: points.rows(indices), labels: labels.map { l in indices.map { l[$0] } },
                              classNames: classNames, name: name)
        out.imageShape = imageShape
        return out
    }
}

import Foundation

/// Writes `bytes` to `path` atomically (temporary name, then rename), as a `DataError` on failure.
func writeFile(_ bytes: [UInt8], to path: String) throws {
    do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw DataError("\(path): cannot write (\(error.localizedDescription))")
    }
}
