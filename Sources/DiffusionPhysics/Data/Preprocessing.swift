import GSLKit

/// How to centre a data set (Docs/Theory.md §4.2 uses `.scalarMean`).
public enum Centering: String, Sendable, Equatable, CaseIterable {
    /// Subtract the single global mean (1/(n d)) Σ_{μ,i} a_{μ,i} from every coordinate (the paper's choice).
    case scalarMean = "scalar"
    /// Subtract each feature's mean (1/n) Σ_μ a_{μ,i}.
    case perFeature = "feature"
    /// Leave the data as they are.
    case none = "none"
}

/// The preprocessing pipeline of Docs/Theory.md §4.2, applied in this order: select classes (file order
/// kept), keep the first `perClass` rows of each selected class, subsample `subsample` rows
/// without replacement, scale by `scale`, centre.
public struct Preprocessing: Sendable, Equatable {
    /// Labels to keep (nil: all rows).
    public var classes: [Int]?
    /// Keep only the first k rows (file order) of each selected class (nil: all).
    public var perClass: Int?
    /// Keep m rows drawn without replacement (nil: all); original order is preserved.
    public var subsample: Int?
    /// Multiply every coordinate by this (1/255 for images, 1/16 for digits).
    public var scale: Double
    public var centering: Centering

    public init(classes: [Int]? = nil, perClass: Int? = nil, subsample: Int? = nil,
                scale: Double = 1, centering: Centering = .none) {
        self.classes = classes
        self.perClass = perClass
        self.subsample = subsample
        self.scale = scale
        self.centering = centering
    }

    /// Row indices (ascending) kept by class selection and `perClass`, from the labels alone.
    /// Throws if a class is absent or has fewer than `perClass` rows, or labels are needed but nil.
    public func selectedIndices(labels: [Int]?, count: Int, source: String) throws -> [Int] {
        guard classes != nil || perClass != nil else { return Array(0..<count) }
        guard let labels else { throw DataError("\(source): class selection needs labels, the data have none") }
        if let k = perClass, k < 1 { throw DataError("\(source): per-class must be ≥ 1 (got \(k))") }
        let wanted = Set(classes ?? labels)
        var taken: [Int: Int] = [:]
        var out: [Int] = []
        for (i, l) in labels.enumerated() where wanted.contains(l) {
            let t = taken[l, default: 0]
            if let k = perClass, t >= k { continue }
            taken[l] = t + 1
            out.append(i)
        }
        for c in (classes ?? []) {
            let t = taken[c, default: 0]
            if t == 0 { throw DataError("\(source): class \(c) not present in the data") }
            if let k = perClass, t < k { throw DataError("\(source): class \(c) has only \(t) rows, per-class=\(k) asked") }
        }
        return out
    }

    /// Row indices (ascending) kept by class selection, `perClass` and `subsample` together —
    /// the rows `apply` keeps, so a loader can materialise only those.
    public func selectedRows(labels: [Int]?, count: Int, source: String, seed: UInt64) throws -> [Int] {
        let keep = try selectedIndices(labels: labels, count: count, source: source)
        guard let m = subsample else { return keep }
        guard m >= 1, m <= keep.count else { throw DataError("\(source): cannot subsample \(m) rows from \(keep.count)") }
        return Self.subsampleIndices(m, of: keep.count, seed: seed).map { keep[$0] }
    }

    /// m of 0..<n drawn uniformly without replacement (partial Fisher–Yates with
    /// `RandomStream(seed: seed, domain: .subsample)`), ascending.
    static func subsampleIndices(_ m: Int, of n: Int, seed: UInt64) -> [Int] {
        if m == n { return Array(0..<n) }
        let rng = RandomStream(seed: seed, domain: .subsample)
        var idx = Array(0..<n)
        for i in 0..<m {
            let j = i + rng.uniformInt(n - i)
            idx.swapAt(i, j)
        }
        return Array(idx[0..<m]).sorted()
    }

    /// Runs the pipeline on `data`; `seed` drives the subsampling (`RandomStream(seed:domain: .subsample)`).
    public func apply(to data: Dataset, seed: UInt64) throws -> Dataset {
        var out = data
        let keep = try selectedIndices(labels: data.labels, count: data.n, source: data.name)
        if keep.count != data.n { out = try data.rows(keep) }
        if let m = subsample { out = try out.subsampled(m, seed: seed) }
        if scale != 1 { try out.scale(by: scale) }
        try out.centre(centering)
        return out
    }
}

extension Dataset {
    /// Multiplies every coordinate by `factor` (finite).
    public func scaled(by factor: Double) throws -> Dataset {
        var out = self
        try out.scale(by: factor)
        return out
    }

    /// Multiplies every coordinate by `factor` (finite), in place.
    public mutating func scale(by factor: Double) throws {
        guard factor.isFinite else { throw DataError("\(name): scale factor must be finite (got \(factor))") }
        for i in points.storage.indices { points.storage[i] *= factor }
    }

    /// Centred copy. `.scalarMean` subtracts the global mean (twice, so the residual mean is at
    /// rounding level ~1e-17 even for large offsets); `.perFeature` subtracts each column's mean.
    public func centred(_ centering: Centering) throws -> Dataset {
        var out = self
        try out.centre(centering)
        return out
    }

    /// Centres in place (see `centred`). `sum`, if given, must be the sequential sum of the
    /// coordinates in storage order (as `IDXLoader.readMatrix` returns it): it saves the first
    /// pass of `.scalarMean`. The result is bit-identical either way: each pass subtracts the
    /// mean computed as one sequential sum over the storage divided by n·d.
    public mutating func centre(_ centering: Centering, sum: Double? = nil) throws {
        switch centering {
        case .none: break
        case .scalarMean:
            let count = Double(points.storage.count)
            // Pass 1 (the sum) may come with the data; pass 2 only reads; pass 3 applies both
            // shifts, rounding after each as two separate passes would.
            let m1 = (sum ?? ArrayKernels.sum(points.storage)) / count
            let m2 = ArrayKernels.sumOfDifferences(points.storage, minus: m1) / count
            ArrayKernels.subtract(m1, then: m2, from: &points.storage)
        case .perFeature:
            for _ in 0..<2 {
                let m = featureMeans
                for r in 0..<n {
                    let base = r * d
                    for j in 0..<d { points.storage[base + j] -= m[j] }
                }
            }
        }
    }

    /// m rows drawn uniformly without replacement (partial Fisher–Yates with
    /// `RandomStream(seed: seed, domain: .subsample)`), returned in their original order.
    public func subsampled(_ m: Int, seed: UInt64) throws -> Dataset {
        guard m >= 1, m <= n else { throw DataError("\(name): cannot subsample \(m) rows from \(n)") }
        if m == n { return self }
        return try rows(Preprocessing.subsampleIndices(m, of: n, seed: seed))
    }

    /// Rows whose label is in `classes`, in file order.
    public func selecting(classes: [Int]) throws -> Dataset {
        try Preprocessing(classes: classes).apply(to: self, seed: 0)
    }

    /// The first `k` rows (file order) of each class.
    public func firstPerClass(_ k: Int) throws -> Dataset {
        try Preprocessing(perClass: k).apply(to: self, seed: 0)
    }
}
