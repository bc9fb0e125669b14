import GSLKit

extension DatasetSpec {
    /// Rows `part(n)` of the data set `load(seed:)` gives (n = its number of rows), bit-identical
    /// to those rows, with n and the range. A rank of a sharded score loads its slice this way.
    /// Fashion-MNIST (scalar or no centring) materialises only the slice; the other specs load
    /// the whole set and keep the slice (their n × d is generated or read whole).
    public func loadSlice(seed: UInt64, part: (Int) -> Range<Int>) throws -> (data: Dataset, total: Int, rows: Range<Int>) {
        if case .fashionMNIST(let classes, let perClass, let split, let centering) = self {
            var r = try FashionMNIST.loadSlice(split: split, preprocessing: Preprocessing(
                classes: classes, perClass: perClass, scale: 1.0 / 255, centering: centering), seed: seed, part: part)
            r.data.name = description
            return r
        }
        let all = try load(seed: seed)
        let range = part(all.n)
        guard range.lowerBound >= 0, range.upperBound <= all.n, !range.isEmpty else {
            throw DataError("\(description): slice \(range) of \(all.n) rows is empty or out of range")
        }
        var data = try all.rows(Array(range))
        data.name = description
        return (data, all.n, range)
    }
}
