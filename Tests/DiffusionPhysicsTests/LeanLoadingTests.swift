import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

/// The lean loader (`IDXLoader.readMatrix`, `FashionMNIST.load`, in-place centring) gives the
/// same matrix, bit for bit, as the straightforward pipeline it replaced: read the whole file,
/// select rows, convert, scale, then centre with two separate "mean, subtract" passes.
final class LeanLoadingTests: XCTestCase {
    var tmp = ""

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "/LeanLoadingTests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

    func idx(shape: [Int], payload: [UInt8]) -> [UInt8] {
        var h: [UInt8] = [0, 0, 8, UInt8(shape.count)]
        for s in shape { h += [UInt8(s >> 24 & 0xFF), UInt8(s >> 16 & 0xFF), UInt8(s >> 8 & 0xFF), UInt8(s & 0xFF)] }
        return h + payload
    }

    /// Σ_i bits(v_i)·(2i + 1) mod 2⁶⁴: changes if any value changes in any bit (odd multipliers
    /// are invertible mod 2⁶⁴). `bench/load_numpy.py`'s sibling computation in numpy gives the
    /// same number for the reference pipeline (cumsum is numpy's sequential sum).
    static func checksum(_ values: [Double]) -> UInt64 {
        var c: UInt64 = 0
        for (i, v) in values.enumerated() { c = c &+ v.bitPattern &* (2 &* UInt64(i) &+ 1) }
        return c
    }

    /// The loader as it was before the lean one: whole file in memory, rows copied, scaled,
    /// then the scalar mean subtracted twice, each pass its own sequential sum.
    static func referenceLoad(images: String, labels: String, keep: ([Int]) throws -> [Int], scale: Double,
                              centering: Centering) throws -> (values: [Double], labels: [Int]) {
        let l = try IDXLoader.readLabels(path: labels)
        let a = try IDXLoader.readArray(path: images)
        let rows = try keep(l)
        let len = a.itemLength
        var v = [Double](repeating: 0, count: rows.count * len)
        for (r, i) in rows.enumerated() { for j in 0..<len { v[r * len + j] = Double(a.bytes[i * len + j]) * 1 } }
        if scale != 1 { for i in v.indices { v[i] *= scale } }
        switch centering {
        case .none: break
        case .scalarMean:
            for _ in 0..<2 {
                var s = 0.0
                for x in v { s += x }
                let m = s / Double(v.count)
                for i in v.indices { v[i] -= m }
            }
        case .perFeature:
            let n = rows.count
            for _ in 0..<2 {
                var m = [Double](repeating: 0, count: len)
                for i in 0..<n { for j in 0..<len { m[j] += v[i * len + j] } }
                m = m.map { $0 / Double(n) }
                for i in 0..<n { for j in 0..<len { v[i * len + j] -= m[j] } }
            }
        }
        return (v, rows.map { l[$0] })
    }

    /// Issue 12: all 60 000 training images, against the checksum of the old loader's matrix
    /// (computed before the change by the reference pipeline in numpy with sequential sums) and
    /// against the reference pipeline here.
    func testFullFashionMNISTIsUnchanged() throws {
        try XCTSkipUnless(FashionMNIST.isAvailable(.train), "dataset-fashion-mnist not installed")
        let expected: UInt64 = 0xc6f8ec2509a02419
        let spec = try DatasetSpec.parse("fashion-mnist:classes=0,1,2,3,4,5,6,7,8,9,per-class=6000")
        var ours: UInt64 = 0
        var ourLabels: [Int] = []
        do {
            let data = try spec.load(seed: 1)
            XCTAssertEqual(data.n, 60_000)
            XCTAssertEqual(data.d, 784)
            XCTAssertEqual(Array(data.labels!.prefix(10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
            ours = Self.checksum(data.points.storage)
            ourLabels = data.labels!
        }
        XCTAssertEqual(ours, expected, "60 000-image matrix changed: checksum \(String(ours, radix: 16))")
        let p = FashionMNIST.paths(.train)
        let reference = try Self.referenceLoad(images: p.images, labels: p.labels, keep: { Array(0..<$0.count) },
                                               scale: 1.0 / 255, centering: .scalarMean)
        XCTAssertEqual(Self.checksum(reference.values), expected)
        XCTAssertEqual(reference.labels, ourLabels)
    }

    /// Class subsets, per-class limits, subsampling and every centring, on the real files.
    func testFashionMNISTSelectionsMatchReference() throws {
        try XCTSkipUnless(FashionMNIST.isAvailable(.test), "dataset-fashion-mnist not installed")
        let p = FashionMNIST.paths(.test)
        for (classes, perClass, subsample, centering) in [([1, 9], 300, nil, Centering.scalarMean),
                                                          ([3, 0, 7], 50, nil, .perFeature),
                                                          ([2, 5], 1000, 333, .scalarMean),
                                                          ([4], 10, nil, .none)] as [([Int], Int, Int?, Centering)] {
            let pre = Preprocessing(classes: classes, perClass: perClass, subsample: subsample, scale: 1.0 / 255, centering: centering)
            let ours = try FashionMNIST.load(split: .test, preprocessing: pre, seed: 11)
            let ref = try Self.referenceLoad(images: p.images, labels: p.labels, keep: { l in
                let base = try Preprocessing(classes: classes, perClass: perClass).selectedIndices(labels: l, count: l.count, source: "ref")
                guard let m = subsample else { return base }
                // The subsample draw as `Dataset.subsampled` makes it on the selected rows.
                let rng = RandomStream(seed: 11, domain: .subsample)
                var idx = Array(0..<base.count)
                for i in 0..<m { idx.swapAt(i, i + rng.uniformInt(base.count - i)) }
                return idx[0..<m].sorted().map { base[$0] }
            }, scale: 1.0 / 255, centering: centering)
            XCTAssertEqual(ours.points.storage, ref.values, "classes \(classes) per-class \(perClass) subsample \(String(describing: subsample)) \(centering)")
            XCTAssertEqual(ours.labels, ref.labels)
            XCTAssertEqual(ours.n, subsample ?? classes.count * perClass)
            // The generic pipeline on an already loaded data set agrees too.
            let all = try IDXLoader.load(images: p.images, labels: p.labels)
            XCTAssertEqual(try pre.apply(to: all, seed: 11).points.storage, ref.values)
        }
    }

    /// Many chunks (the inflating helper thread in play), selections at chunk edges, raw and gzip.
    func testReadMatrixAcrossChunks() throws {
        let length = 4096, items = 700        // 256 rows per 1 MB chunk → 3 chunks
        let payload = (0..<(items * length)).map { UInt8(truncatingIfNeeded: ($0 &* 2654435761) >> 7) }
        let bytes = idx(shape: [items, 64, 64], payload: payload)
        let raw = tmp + "/x-images-idx3-ubyte", gz = raw + ".gz"
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        try GzipWriter.write(bytes, to: gz)
        let array = try IDXLoader.readArray(path: raw)
        for path in [raw, gz] {
            for rows in [nil, [0, 255, 256, 511, 512, 699], Array(stride(from: 3, to: 700, by: 7))] as [[Int]?] {
                let (m, sum, shape) = try IDXLoader.readMatrix(path: path, scale: 0.5) { _ in rows }
                XCTAssertEqual(shape, [items, 64, 64])
                let expected = array.matrix(rows: rows, scale: 0.5)
                XCTAssertEqual(m, expected)
                var s = 0.0
                for v in expected.storage { s += v }
                XCTAssertEqual(sum.bitPattern, s.bitPattern)
            }
        }
        // Errors: rows out of order, a truncated payload, a truncated gzip stream, trailing bytes.
        XCTAssertThrowsError(try IDXLoader.readMatrix(path: raw) { _ in [5, 3] })
        let cut = tmp + "/cut-images-idx3-ubyte"
        try Data(bytes.dropLast(5000)).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try IDXLoader.readMatrix(path: cut)) { e in
            XCTAssertTrue("\(e)".contains("truncated IDX payload"), "\(e)")
        }
        let gzBytes = try Data(contentsOf: URL(fileURLWithPath: gz))
        try gzBytes.prefix(gzBytes.count / 2).write(to: URL(fileURLWithPath: gz + ".cut.gz"))
        XCTAssertThrowsError(try IDXLoader.readMatrix(path: gz + ".cut.gz")) { e in
            XCTAssertTrue(e is DataError && "\(e)".contains("gzip"), "\(e)")
        }
        try Data(bytes + [1, 2, 3]).write(to: URL(fileURLWithPath: raw + ".trail"))
        XCTAssertThrowsError(try IDXLoader.readMatrix(path: raw + ".trail")) { e in
            XCTAssertTrue("\(e)".contains("3 trailing bytes"), "\(e)")
        }
    }

    /// In-place scalar centring (sum given or not) is bit-identical to two separate passes.
    func testCentringInPlaceMatchesTwoPasses() throws {
        let rng = RandomStream(seed: 3, stream: 0)
        let values = (0..<5000).map { _ in 1e3 + rng.gaussian() }
        var data = try Dataset(points: Matrix(rows: 100, columns: 50, storage: values), name: "x")
        var ref = values
        for _ in 0..<2 {
            var s = 0.0
            for x in ref { s += x }
            let m = s / Double(ref.count)
            for i in ref.indices { ref[i] -= m }
        }
        var withSum = data
        try data.centre(.scalarMean)
        XCTAssertEqual(data.points.storage, ref)
        var s = 0.0
        for x in values { s += x }
        try withSum.centre(.scalarMean, sum: s)
        XCTAssertEqual(withSum.points.storage, ref)
    }

    /// A rank's slice (only its rows decoded) equals those rows of the full load, bit for bit.
    func testSlicesEqualRowsOfFullLoad() throws {
        try XCTSkipUnless(FashionMNIST.isAvailable(.test), "dataset-fashion-mnist not installed")
        for text in ["fashion-mnist:classes=1,9,per-class=300,split=test", "fashion-mnist:classes=0,4,per-class=100,split=test,center=feature",
                     "fashion-mnist:classes=2,per-class=50,split=test,center=none", "gaussian:d=5,n=40"] {
            let spec = try DatasetSpec.parse(text)
            let full = try spec.load(seed: 4)
            var rows: [Double] = [], labels: [Int] = []
            for k in 0..<3 {
                let (part, total, range) = try spec.loadSlice(seed: 4) { n in (k * n / 3)..<((k + 1) * n / 3) }
                XCTAssertEqual(total, full.n)
                XCTAssertEqual(part.n, range.count)
                XCTAssertEqual(part.name, full.name)
                rows += part.points.storage
                labels += part.labels ?? []
            }
            XCTAssertEqual(rows, full.points.storage, text)
            XCTAssertEqual(labels, full.labels ?? [], text)
        }
    }
}
