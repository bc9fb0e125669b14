import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

final class DataTests: XCTestCase {
    var tmp: String = ""

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "/DataTests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: tmp)
    }

    // MARK: helpers

    func path(_ name: String) -> String { tmp + "/" + name }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func write(_ text: String, _ name: String) throws -> String { try write(Array(text.utf8), name) }

    /// Asserts that `body` throws a `DataError` (not some other error, not a crash).
    func assertDataError<T>(_ what: String, file: StaticString = #filePath, line: UInt = #line,
                            _ body: () throws -> T) {
        do {
            _ = try body()
            XCTFail("\(what): no error thrown", file: file, line: line)
        } catch let e as DataError {
            XCTAssertFalse(e.message.isEmpty, file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), "\(what): message not one line: \(e.message)", file: file, line: line)
        } catch {
            XCTFail("\(what): threw \(type(of: error)) instead of DataError: \(error)", file: file, line: line)
        }
    }

    func idx(shape: [Int], payload: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
        var h: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for s in shape { h += [UInt8(s >> 24 & 0xFF), UInt8(s >> 16 & 0xFF), UInt8(s >> 8 & 0xFF), UInt8(s & 0xFF)] }
        return h + payload
    }

    func npy(descr: String, fortran: Bool = false, shape: String, payload: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let dict = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }\n"
        let n = dict.utf8.count
        let len: [UInt8] = major == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]
        return [0x93] + Array("NUMPY".utf8) + [major, 0] + len + Array(dict.utf8) + payload
    }

    func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { (0..<T.bitWidth / 8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    // MARK: Fashion-MNIST (Debian dataset-fashion-mnist)

    func testFashionMNISTTrainFiles() throws {
        try XCTSkipUnless(FashionMNIST.isAvailable(.train), "dataset-fashion-mnist not installed")
        let p = FashionMNIST.paths(.train)
        let images = try IDXLoader.readArray(path: p.images)
        XCTAssertEqual(images.shape, [60000, 28, 28])
        XCTAssertEqual(images.count, 60000)
        XCTAssertEqual(images.itemLength, 784)
        let labels = try IDXLoader.readLabels(path: p.labels)
        XCTAssertEqual(labels.count, 60000)
        XCTAssertEqual(Array(labels.prefix(10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        var sum = 0
        for b in images.bytes { sum += Int(b) }
        let mean = Double(sum) / Double(images.bytes.count) / 255
        XCTAssertEqual(mean, 0.2860, accuracy: 1e-3)
        // Same through the Dataset path on a few rows.
        let m = images.matrix(rows: [0, 1], scale: 1.0 / 255)
        XCTAssertEqual(m.rows, 2)
        XCTAssertEqual(m.columns, 784)
        XCTAssertTrue(m.storage.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testFashionMNISTSpec() throws {
        try XCTSkipUnless(FashionMNIST.isAvailable(.train), "dataset-fashion-mnist not installed")
        let spec = try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=1000")
        XCTAssertEqual(spec, .fashionMNIST(classes: [1, 9], perClass: 1000, split: .train, centering: .scalarMean))
        XCTAssertNil(spec.population)
        let data = try spec.load(seed: 0)
        XCTAssertEqual(data.n, 2000)
        XCTAssertEqual(data.d, 784)
        XCTAssertLessThan(abs(data.scalarMean), 1e-12)
        XCTAssertEqual(data.classCounts, [1: 1000, 9: 1000])
        XCTAssertEqual(data.classes, [1, 9])
        XCTAssertEqual(data.name, spec.description)
        // File order: the first training image with label 9 is image 0, so row 0 has label 9.
        XCTAssertEqual(data.labels?.first, 9)
        // Centring is a shift only: range of values is 1 (some pixel 0 and some 255 in 2000 images).
        let range = data.points.storage.max()! - data.points.storage.min()!
        XCTAssertEqual(range, 1, accuracy: 1e-12)
    }

    // MARK: digits (shipped in Data/)

    func testDigits() throws {
        let all = try Digits.loadAll()
        XCTAssertEqual(all.n, 1797)
        XCTAssertEqual(all.d, 64)
        XCTAssertEqual(all.classes, Array(0...9))
        XCTAssertEqual(all.points.storage.min(), 0)
        XCTAssertEqual(all.points.storage.max(), 16)
        let spec = try DatasetSpec.parse("digits:classes=0,1")
        let data = try spec.load(seed: 0)
        XCTAssertEqual(data.n, 360)
        XCTAssertEqual(data.d, 64)
        XCTAssertEqual(data.classCounts, [0: 178, 1: 182])
        XCTAssertLessThan(abs(data.scalarMean), 1e-12)
        let limited = try DatasetSpec.parse("digits:classes=3,per-class=10,center=none").load(seed: 0)
        XCTAssertEqual(limited.n, 10)
        XCTAssertEqual(limited.points.storage.max()!, 1, accuracy: 1e-15)   // x/16, uncentred
    }

    // MARK: round trips

    func randomMatrix(_ rows: Int, _ cols: Int, seed: UInt64) -> Matrix<Double> {
        let rng = RandomStream(seed: seed, stream: 0)
        let specials: [Double] = [0, -0.0, 1e-300, -1e300, .ulpOfOne, 0.1, 1.0 / 3, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var s = (0..<(rows * cols)).map { _ in rng.gaussian() * pow(10, Double(rng.uniformInt(20)) - 10) }
        for (i, v) in specials.enumerated() where i < s.count { s[i] = v }
        return Matrix(rows: rows, columns: cols, storage: s)
    }

    func testCSVRoundTripIsExact() throws {
        let m = randomMatrix(37, 5, seed: 1)
        let labels = (0..<37).map { $0 % 3 - 1 }
        let ds = try Dataset(points: m, labels: labels, name: "x")
        let p = path("a.csv")
        try ds.writeCSV(to: p)
        let back = try CSVLoader.load(path: p)           // header auto-detected, label column by name
        XCTAssertEqual(back.points, m)
        XCTAssertEqual(back.labels, labels)
        XCTAssertEqual(back.points.storage.map(\.bitPattern), m.storage.map(\.bitPattern))
        // Headerless, label by index; and the gzip variant.
        let q = path("b.csv")
        try CSVLoader.write(m, labels: labels, header: false, to: q)
        let back2 = try CSVLoader.load(path: q, label: .index(5))
        XCTAssertEqual(back2.points, m)
        XCTAssertEqual(back2.labels, labels)
        let gz = path("b.csv.gz")
        try GzipWriter.write(Array(try Data(contentsOf: URL(fileURLWithPath: q))), to: gz)
        XCTAssertEqual(try CSVLoader.load(path: gz, label: .last).points, m)
        // Matrix writer, no labels; explicit name lookup; CRLF, blank lines, spaces.
        try m.writeCSV(to: path("c.csv"))
        let back3 = try CSVLoader.load(path: path("c.csv"))
        XCTAssertNil(back3.labels)
        XCTAssertEqual(back3.points, m)
        let t = try CSVLoader.parse("a, y ,b\r\n1, 2, 3\r\n\r\n4,5 ,6\r\n", label: .name("y"))
        XCTAssertEqual(t.points, Matrix(rowArrays: [[1, 3], [4, 6]]))
        XCTAssertEqual(t.labels, [2, 5])
        let bom = try CSVLoader.parse("\u{FEFF}1,-2\r3,+4e0\n\n-0.5,007", label: .none)
        XCTAssertEqual(bom.points, Matrix(rowArrays: [[1, -2], [3, 4], [-0.5, 7]]))
        let semi = try CSVLoader.parse("x;label\n1.5;2\n", separator: ";")
        XCTAssertEqual(semi.points, Matrix(rowArrays: [[1.5]]))
        XCTAssertEqual(semi.labels, [2])
    }

    func testNPYRoundTripIsExact() throws {
        let m = randomMatrix(23, 7, seed: 2)
        let p = path("a.npy")
        try m.writeNPY(to: p)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: p)))
        XCTAssertEqual(bytes.count % 8, 0)
        let headerEnd = 10 + Int(bytes[8]) + Int(bytes[9]) << 8
        XCTAssertEqual(headerEnd % 64, 0, "numpy aligns the data to 64 bytes")
        let back = try NPYLoader.load(path: p)
        XCTAssertEqual(back.points.storage.map(\.bitPattern), m.storage.map(\.bitPattern))
        XCTAssertEqual(back.n, 23)
        XCTAssertEqual(back.d, 7)
        // Dataset writer with labels.
        let ds = try Dataset(points: m, labels: Array(0..<23), name: "x")
        try ds.writeNPY(to: path("b.npy"), labelsPath: path("b-labels.npy"))
        XCTAssertEqual(try NPYLoader.load(path: path("b.npy")).points, m)
        let labels = try NPYLoader.load(path: path("b-labels.npy"))
        XCTAssertEqual(labels.points.storage, (0..<23).map(Double.init))
        XCTAssertEqual(labels.d, 1)
    }

    func testNPYDtypes() throws {
        let i4 = npy(descr: "<i4", shape: "(3,)", payload: [Int32(-3), 0, 70000].flatMap { le($0) })
        XCTAssertEqual(try NPYLoader.load(path: write(i4, "i4.npy")).points.storage, [-3, 0, 70000])
        let b1 = npy(descr: "|b1", shape: "(2,)", payload: [1, 0])
        XCTAssertEqual(try NPYLoader.load(path: write(b1, "b1.npy")).points.storage, [1, 0])
        let f4 = npy(descr: "<f4", shape: "(2, 2)", payload: [1.5, -2, 0.25, 3].flatMap { le(Float($0).bitPattern) })
        XCTAssertEqual(try NPYLoader.load(path: write(f4, "f4.npy")).points, Matrix(rowArrays: [[1.5, -2], [0.25, 3]]))
        let u1 = npy(descr: "|u1", shape: "(3,)", payload: [0, 7, 255])
        let du1 = try NPYLoader.load(path: write(u1, "u1.npy"))
        XCTAssertEqual(du1.points, Matrix(rowArrays: [[0], [7], [255]]))
        let i8 = npy(descr: "<i8", shape: "(1, 3)", payload: [Int64(-5), 0, 1 << 40].flatMap { le($0) }, major: 2)
        XCTAssertEqual(try NPYLoader.load(path: write(i8, "i8.npy")).points, Matrix(rowArrays: [[-5, 0, 1099511627776]]))
    }

    // MARK: IDX

    func testIDXRawAndGzipWithLabels() throws {
        let payload: [UInt8] = (0..<24).map { UInt8($0 * 10) }
        let images = idx(shape: [3, 2, 4], payload: payload)
        let labels = idx(shape: [3], payload: [4, 1, 4])
        let ip = try write(images, "toy-images-idx3-ubyte")
        _ = try write(labels, "toy-labels-idx1-ubyte")
        let d = try IDXLoader.load(images: ip, labels: IDXLoader.labelsPath(forImages: ip))
        XCTAssertEqual(d.n, 3)
        XCTAssertEqual(d.d, 8)
        XCTAssertEqual(d.labels, [4, 1, 4])
        XCTAssertEqual(d.points.row(2), (16..<24).map { Double($0 * 10) })
        // gzip variant through the path spec (labels found beside it).
        try GzipWriter.write(images, to: path("z-images-idx3-ubyte.gz"))
        try GzipWriter.write(labels, to: path("z-labels-idx1-ubyte.gz"))
        let spec = try DatasetSpec.parse(path("z-images-idx3-ubyte.gz"))
        XCTAssertEqual(spec, .file(path: path("z-images-idx3-ubyte.gz")))
        let viaSpec = try spec.load(seed: 0)
        XCTAssertEqual(viaSpec.points, d.points)
        XCTAssertEqual(viaSpec.labels, [4, 1, 4])
    }

    // MARK: malformed inputs → DataError

    func testMalformedIDX() throws {
        let good = idx(shape: [2, 3], payload: [1, 2, 3, 4, 5, 6])
        assertDataError("missing file") { try IDXLoader.readArray(path: path("nope-idx3-ubyte.gz")) }
        assertDataError("empty file") { try IDXLoader.readArray(path: write([UInt8](), "empty")) }
        assertDataError("bad magic") { try IDXLoader.readArray(path: write([1, 2, 8, 2] + good.dropFirst(4), "magic")) }
        assertDataError("short header") { try IDXLoader.readArray(path: write(Array(good.prefix(7)), "short")) }
        assertDataError("truncated payload") { try IDXLoader.readArray(path: write(Array(good.dropLast()), "trunc")) }
        assertDataError("trailing bytes") { try IDXLoader.readArray(path: write(good + [0], "trail")) }
        assertDataError("float type") { try IDXLoader.readArray(path: write(idx(shape: [1], payload: [0, 0, 0, 0], type: 0x0D), "f")) }
        assertDataError("zero dim") { try IDXLoader.readArray(path: write(idx(shape: [0, 3], payload: []), "zero")) }
        // Truncated and corrupt gzip streams.
        let big = idx(shape: [100, 100], payload: (0..<10000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) })
        try GzipWriter.write(big, to: path("big.gz"))
        let gz = Array(try Data(contentsOf: URL(fileURLWithPath: path("big.gz"))))
        XCTAssertEqual(try IDXLoader.readArray(path: path("big.gz")).shape, [100, 100])
        assertDataError("truncated gzip") { try IDXLoader.readArray(path: write(Array(gz.prefix(gz.count / 2)), "cut.gz")) }
        var corrupt = gz
        for i in 20..<60 { corrupt[i] ^= 0xA5 }
        assertDataError("corrupt gzip") { try IDXLoader.readArray(path: write(corrupt, "corrupt.gz")) }
        XCTAssertThrowsError(try GzipReader.read(path: path("corrupt.gz"))) { e in
            XCTAssertEqual("\(e)".components(separatedBy: path("corrupt.gz")).count, 2, "path named once: \(e)")
        }
        // Labels: wrong count, wrong rank.
        let ip = try write(good, "g-images-idx3-ubyte")
        assertDataError("label count") { try IDXLoader.load(images: ip, labels: write(idx(shape: [3], payload: [0, 1, 2]), "l3")) }
        assertDataError("label rank") { try IDXLoader.load(images: ip, labels: write(good, "l2d")) }
    }

    func testGzipReaderErrors() throws {
        XCTAssertThrowsError(try GzipReader.read(path: path("missing"))) { e in
            XCTAssertTrue("\(e)".contains(path("missing")), "message names the path: \(e)")
        }
        XCTAssertEqual(try GzipReader.read(path: write([1, 2, 3], "raw")), [1, 2, 3])
    }

    func testMalformedCSV() throws {
        assertDataError("missing") { try CSVLoader.load(path: path("none.csv")) }
        assertDataError("empty") { try CSVLoader.load(path: write("", "e.csv")) }
        assertDataError("blank only") { try CSVLoader.load(path: write("\n \n", "b.csv")) }
        assertDataError("header only") { try CSVLoader.load(path: write("a,b\n", "h.csv")) }
        assertDataError("ragged") { try CSVLoader.load(path: write("1,2,3\n4,5\n", "r.csv")) }
        assertDataError("non-numeric") { try CSVLoader.load(path: write("1,2\n3,x\n", "n.csv")) }
        assertDataError("empty cell") { try CSVLoader.load(path: write("1,2\n3,\n", "ec.csv")) }
        assertDataError("NaN") { try CSVLoader.load(path: write("1,2\nnan,4\n", "nan.csv")) }
        assertDataError("inf") { try CSVLoader.load(path: write("1,inf\n3,4\n", "inf.csv")) }
        assertDataError("non-integer label") { try CSVLoader.load(path: write("1,2.5\n", "l.csv"), label: .last) }
        assertDataError("unknown label name") { try CSVLoader.load(path: write("a,b\n1,2\n", "ln.csv"), label: .name("z")) }
        assertDataError("label index range") { try CSVLoader.load(path: write("1,2\n", "li.csv"), label: .index(2)) }
        do {
            _ = try CSVLoader.parse("1,2\n3,4\n\n5\n", source: "t.csv")
            XCTFail("ragged accepted")
        } catch let e as DataError {
            XCTAssertTrue(e.message.contains("line 4"), e.message)
        }
    }

    func testMalformedNPY() throws {
        let f8 = [1.0, 2].flatMap { le($0.bitPattern) }
        assertDataError("missing") { try NPYLoader.load(path: path("none.npy")) }
        assertDataError("empty") { try NPYLoader.load(path: write([UInt8](), "e.npy")) }
        assertDataError("bad magic") { try NPYLoader.load(path: write(Array("NOTNUMPY....".utf8), "m.npy")) }
        assertDataError("complex dtype") { try NPYLoader.load(path: write(npy(descr: "<c16", shape: "(1,)", payload: f8), "c.npy")) }
        assertDataError("int32 truncated") { try NPYLoader.load(path: write(npy(descr: "<i4", shape: "(3,)", payload: Array(f8.prefix(8))), "i4.npy")) }
        assertDataError("float16 dtype") { try NPYLoader.load(path: write(npy(descr: "<f2", shape: "(4,)", payload: Array(f8.prefix(8))), "f2.npy")) }
        assertDataError("text dtype") { try NPYLoader.load(path: write(npy(descr: "<U2", shape: "(1,)", payload: Array(f8.prefix(8))), "u.npy")) }
        assertDataError("big-endian") { try NPYLoader.load(path: write(npy(descr: ">f8", shape: "(2,)", payload: f8), "be.npy")) }
        assertDataError("fortran") { try NPYLoader.load(path: write(npy(descr: "<f8", fortran: true, shape: "(1, 2)", payload: f8), "fo.npy")) }
        XCTAssertEqual(try NPYLoader.load(path: write(npy(descr: "<f8", shape: "(1, 1, 2)", payload: f8), "3d.npy")).d, 2, "trailing axes flattened")
        assertDataError("0-D") { try NPYLoader.load(path: write(npy(descr: "<f8", shape: "()", payload: Array(f8.prefix(8))), "0d.npy")) }
        assertDataError("truncated") { try NPYLoader.load(path: write(npy(descr: "<f8", shape: "(3,)", payload: f8), "t.npy")) }
        assertDataError("NaN") { try NPYLoader.load(path: write(npy(descr: "<f8", shape: "(1,)", payload: le(Double.nan.bitPattern)), "nan.npy")) }
        assertDataError("inf f4") { try NPYLoader.load(path: write(npy(descr: "<f4", shape: "(1,)", payload: le(Float.infinity.bitPattern)), "inf.npy")) }
        assertDataError("empty shape") { try NPYLoader.load(path: write(npy(descr: "<f8", shape: "(0, 3)", payload: []), "z.npy")) }
        assertDataError("structured") { try NPYLoader.load(path: write(Array(npy(descr: "<f8", shape: "(1,)", payload: []).prefix(10)) + Array("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }\n".utf8), "s.npy")) }
        assertDataError("garbled header") { try NPYLoader.load(path: write(npy(descr: "<f8", shape: "(2", payload: f8), "g.npy")) }
        assertDataError("dataset NaN") { try Dataset(points: Matrix(rowArrays: [[1, .nan]]), name: "m") }
        assertDataError("dataset labels") { try Dataset(points: Matrix(rowArrays: [[1], [2]]), labels: [0], name: "m") }
        assertDataError("dataset empty") { try Dataset(points: Matrix(rows: 0, columns: 3), name: "m") }
    }

    // MARK: Gaussian mixtures

    func testTwoClassSampleMatchesLaw() throws {
        // Tolerances are 5 standard errors (two-sided p ≈ 6e-7 per check; fixed seed anyway).
        let d = 16, n = 20_000, sigma = 0.5, mTilde = 0.8
        let law = try GaussianMixtureModel.twoClass(d: d, mTilde: mTilde, sigma: sigma)
        XCTAssertEqual(law.k, 2)
        XCTAssertEqual(law.d, d)
        XCTAssertEqual(law.covarianceTopEigenvalue!, Double(d) * mTilde * mTilde + sigma * sigma, accuracy: 1e-12)
        let data = try law.sample(n: n, seed: 42)
        XCTAssertEqual(data.n, n)
        let counts = data.classCounts
        XCTAssertLessThan(abs(Double(counts[0]!) - Double(n) / 2), 5 * (Double(n) / 4).squareRoot())
        for c in 0..<2 {
            let rows = (0..<n).filter { data.labels![$0] == c }
            let nc = Double(rows.count)
            var mean = [Double](repeating: 0, count: d)
            var ss = 0.0
            for i in rows {
                for j in 0..<d {
                    mean[j] += data.points[i, j] / nc
                    let r = data.points[i, j] - law.means[c, j]
                    ss += r * r
                }
            }
            let se = sigma / nc.squareRoot()
            for j in 0..<d { XCTAssertEqual(mean[j], law.means[c, j], accuracy: 5 * se, "component \(c) coord \(j)") }
            // Pooled variance about the true mean: E = σ², SE = σ² √(2 / (n_c d)).
            let v = ss / (nc * Double(d))
            XCTAssertEqual(v, sigma * sigma, accuracy: 5 * sigma * sigma * (2 / (nc * Double(d))).squareRoot())
        }
        XCTAssertEqual(law.means.row(0), [Double](repeating: mTilde, count: d))
        XCTAssertEqual(law.means.row(1), [Double](repeating: -mTilde, count: d))
        // Point i depends on (seed, i) only.
        let small = try law.sample(n: 5, seed: 42)
        XCTAssertEqual(small.points, data.points.rows(0..<5))
        XCTAssertEqual(small.labels, Array(data.labels!.prefix(5)))
        XCTAssertNotEqual(try law.sample(n: 5, seed: 43).points, small.points)
    }

    func testRandomDirectionAndIsotropic() throws {
        let law = try GaussianMixtureModel.twoClass(d: 50, mTilde: 1.5, sigma: 1, direction: .random(seed: 7))
        let m = law.means.row(0)
        XCTAssertEqual(m.reduce(0) { $0 + $1 * $1 }, 50 * 1.5 * 1.5, accuracy: 1e-9)
        XCTAssertEqual(law.means.row(1), m.map { -$0 })
        XCTAssertEqual(law, try GaussianMixtureModel.twoClass(d: 50, mTilde: 1.5, sigma: 1, direction: .random(seed: 7)))
        XCTAssertNotEqual(law, try GaussianMixtureModel.twoClass(d: 50, mTilde: 1.5, sigma: 1, direction: .random(seed: 8)))
        XCTAssertEqual(law.covarianceTopEigenvalue!, 50 * 2.25 + 1, accuracy: 1e-9)

        let g = try GaussianMixtureModel.isotropicGaussian(d: 3, sigma: 2)
        XCTAssertNil(g.covarianceTopEigenvalue)
        let s = try g.sample(n: 30_000, seed: 1)
        XCTAssertEqual(Set(s.labels!), [0])
        // Mean of all 90 000 coordinates: SE = 2/√90000; second moment: SE = 4·√(2/90000).
        XCTAssertEqual(s.scalarMean, 0, accuracy: 5 * 2 / 300)
        let m2 = s.points.storage.reduce(0) { $0 + $1 * $1 } / 90_000
        XCTAssertEqual(m2, 4, accuracy: 5 * 4 * (2.0 / 90_000).squareRoot())

        let w = try GaussianMixtureModel(means: Matrix(rowArrays: [[0], [1]]), variances: [1, 1], weights: [1, 3])
        XCTAssertEqual(w.weights, [0.25, 0.75])
        assertDataError("negative variance") { try GaussianMixtureModel(means: Matrix(rowArrays: [[0]]), variances: [-1], weights: [1]) }
        assertDataError("zero weight") { try GaussianMixtureModel(means: Matrix(rowArrays: [[0], [1]]), variances: [1, 1], weights: [1, 0]) }
        assertDataError("shape") { try GaussianMixtureModel(means: Matrix(rowArrays: [[0], [1]]), variances: [1], weights: [1, 1]) }
        assertDataError("d = 0") { try GaussianMixtureModel.twoClass(d: 0, mTilde: 1, sigma: 1) }
        assertDataError("n = 0") { try g.sample(n: 0, seed: 0) }
    }

    // MARK: preprocessing

    func testPreprocessing() throws {
        let pts = Matrix(rowArrays: (0..<12).map { [Double($0), Double(2 * $0)] })
        let labels = [5, 3, 5, 7, 3, 5, 3, 7, 5, 3, 7, 5]
        let ds = try Dataset(points: pts, labels: labels, name: "toy")
        let sel = try ds.selecting(classes: [3, 5])
        XCTAssertEqual(sel.labels, [5, 3, 5, 3, 5, 3, 5, 3, 5])
        let first = try Preprocessing(classes: [5, 3], perClass: 2).apply(to: ds, seed: 0)
        XCTAssertEqual(first.points.storage.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), [0, 1, 2, 4])
        XCTAssertEqual(first.labels, [5, 3, 5, 3])
        assertDataError("absent class") { try ds.selecting(classes: [9]) }
        assertDataError("too few") { try Preprocessing(classes: [7], perClass: 4).apply(to: ds, seed: 0) }
        assertDataError("unlabelled") { try Dataset(points: pts, name: "u").selecting(classes: [1]) }

        let scaled = try Preprocessing(scale: 0.5, centering: .perFeature).apply(to: ds, seed: 0)
        for m in scaled.featureMeans { XCTAssertEqual(m, 0, accuracy: 1e-14) }
        XCTAssertEqual(scaled.points[1, 1] - scaled.points[0, 1], 1)
        let sc = try ds.centred(.scalarMean)
        XCTAssertLessThan(abs(sc.scalarMean), 1e-14)
        XCTAssertEqual(sc.points[0, 0], -8.25)

        let sub = try ds.subsampled(5, seed: 3)
        XCTAssertEqual(sub.n, 5)
        let firstColumn = (0..<5).map { sub.points[$0, 0] }
        XCTAssertEqual(firstColumn, firstColumn.sorted())
        XCTAssertEqual(Set(firstColumn).count, 5)
        XCTAssertEqual(try ds.subsampled(5, seed: 3), sub)
        assertDataError("subsample too many") { try ds.subsampled(13, seed: 0) }
        // Every row is picked with probability m/n = 1/2 (check roughly over seeds).
        var hits = [Int](repeating: 0, count: 12)
        for s in 0..<400 { for v in try ds.subsampled(6, seed: UInt64(s)).points.storage.enumerated() where v.offset % 2 == 0 { hits[Int(v.element)] += 1 } }
        for h in hits { XCTAssertEqual(Double(h), 200, accuracy: 5 * 10) }   // binomial SD = 10
    }

    // MARK: spec parsing

    func testSpecParsingValid() throws {
        XCTAssertEqual(try DatasetSpec.parse("gaussian:d=64,n=1000,sigma=1"), .gaussian(d: 64, n: 1000, sigma: 1))
        XCTAssertEqual(try DatasetSpec.parse("gaussian:d=64"), .gaussian(d: 64, n: nil, sigma: 1))
        XCTAssertEqual(try DatasetSpec.parse("gaussian:d=8,n=inf,sigma=0.5"), .gaussian(d: 8, n: nil, sigma: 0.5))
        XCTAssertEqual(try DatasetSpec.parse("gmm2:d=64,n=1000,mtilde=1,sigma=1"),
                       .gmm2(d: 64, n: 1000, mTilde: 1, sigma: 1, direction: .ones))
        XCTAssertEqual(try DatasetSpec.parse("gmm2:d=4,n=1e4,mtilde=0.5,direction=random,direction-seed=3"),
                       .gmm2(d: 4, n: 10000, mTilde: 0.5, sigma: 1, direction: .random(seed: 3)))
        XCTAssertEqual(try DatasetSpec.parse("fashion-mnist:classes=1,9,per-class=1000"),
                       .fashionMNIST(classes: [1, 9], perClass: 1000, split: .train, centering: .scalarMean))
        XCTAssertEqual(try DatasetSpec.parse("fashion-mnist"),
                       .fashionMNIST(classes: [1, 9], perClass: 1000, split: .train, centering: .scalarMean))
        XCTAssertEqual(try DatasetSpec.parse("fashion-mnist:per-class=50,classes=0,2,4,split=test,center=feature"),
                       .fashionMNIST(classes: [0, 2, 4], perClass: 50, split: .test, centering: .perFeature))
        XCTAssertEqual(try DatasetSpec.parse("digits:classes=0,1"), .digits(classes: [0, 1], perClass: nil, centering: .scalarMean))
        XCTAssertEqual(try DatasetSpec.parse("digits:classes=3,8,per-class=20,center=none"),
                       .digits(classes: [3, 8], perClass: 20, centering: .none))
        XCTAssertEqual(try DatasetSpec.parse("/tmp/x.csv"), .file(path: "/tmp/x.csv"))
        XCTAssertEqual(try DatasetSpec.parse("data/points.npy"), .file(path: "data/points.npy"))
        XCTAssertEqual(try DatasetSpec.parse("file:/tmp/odd:name"), .file(path: "/tmp/odd:name"))

        for text in ["gaussian:d=64,n=1000,sigma=1", "gaussian:d=3", "gmm2:d=64,n=1000,mtilde=1.25,sigma=0.5",
                     "gmm2:d=4,direction=random,direction-seed=9", "fashion-mnist:classes=1,9,per-class=1000",
                     "digits:classes=0,1", "digits:classes=0,1,per-class=5,center=feature", "/tmp/x.csv", "file:/a:b.txt"] {
            let spec = try DatasetSpec.parse(text)
            XCTAssertEqual(try DatasetSpec.parse(spec.description), spec, "canonical text of \(text): \(spec.description)")
        }
        XCTAssertEqual(DatasetSpec.gaussian(d: 64, n: 1000, sigma: 1).description, "gaussian:d=64,n=1000,sigma=1")
        XCTAssertEqual(DatasetSpec.gmm2(d: 64, n: nil, mTilde: 1, sigma: 1, direction: .ones).description,
                       "gmm2:d=64,n=inf,mtilde=1,sigma=1,direction=ones")
    }

    func testSpecPopulationAndLoad() throws {
        let pop = try DatasetSpec.parse("gmm2:d=10,mtilde=1,sigma=1")
        XCTAssertTrue(pop.isPopulationOnly)
        XCTAssertEqual(pop.population?.covarianceTopEigenvalue, 11)
        assertDataError("population-only load") { try pop.load(seed: 0) }
        let finite = try DatasetSpec.parse("gmm2:d=10,n=50,mtilde=1,sigma=1")
        XCTAssertFalse(finite.isPopulationOnly)
        XCTAssertEqual(finite.population, pop.population)
        let data = try finite.load(seed: 9)
        XCTAssertEqual(data.n, 50)
        XCTAssertEqual(data.d, 10)
        XCTAssertEqual(data.name, finite.description)
        XCTAssertEqual(data.points, try pop.population!.sample(n: 50, seed: 9).points)
        let g = try DatasetSpec.parse("gaussian:d=3,n=4,sigma=0").load(seed: 1)
        XCTAssertEqual(g.points, Matrix(rows: 4, columns: 3))
        XCTAssertNil(try DatasetSpec.parse("digits").population)

        let csv = path("pts.csv")
        try data.writeCSV(to: csv)
        let fromFile = try DatasetSpec.parse(csv).load(seed: 0)
        XCTAssertEqual(fromFile.points, data.points)
        XCTAssertEqual(fromFile.labels, data.labels)
        let npyPath = path("pts.npy")
        try data.writeNPY(to: npyPath)
        XCTAssertEqual(try DatasetSpec.parse(npyPath).load(seed: 0).points, data.points)
        assertDataError("missing file spec") { try DatasetSpec.parse(path("absent.npy")).load(seed: 0) }
        assertDataError("unknown file type") { try DatasetSpec.parse("file:" + path("x.txt")).load(seed: 0) }
    }

    func testSpecParsingInvalid() {
        let bad = ["", "gaussian", "gaussian:n=5", "gaussian:d=0", "gaussian:d=-2", "gaussian:d=4,n=0",
                   "gaussian:d=4,n=-3", "gaussian:d=4,sigma=-1", "gaussian:d=abc", "gaussian:d=4.5",
                   "gaussian:d=4,sigma=nan", "gaussian:d=4,sigma=inf", "gaussian:d=4,bogus=1", "gaussian:d=4,d=5",
                   "gaussian:d=4,,n=3", "gaussian:5", "gaussian:d=4,n=", "gaussian:d=4,sigma=1,2",
                   "gmm2:d=4,mtilde=x", "gmm2:d=4,mtilde=-1", "gmm2:d=4,direction=diag", "gmm2:d=4,direction-seed=3",
                   "fashion-mnist:classes=1,a", "fashion-mnist:classes=1,1", "fashion-mnist:split=val",
                   "fashion-mnist:per-class=0", "fashion-mnist:center=median", "fashion-mnist:n=10",
                   "digits:classes=0,1,per-class=0", "digits:per-class=x", "mnist:classes=1", "foo:d=3", "points.txt",
                   "file:"]
        for text in bad {
            assertDataError("spec '\(text)'") { try DatasetSpec.parse(text) }
        }
    }

    func testDataDirectory() throws {
        let dir = try DataDirectory.locate()
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/digits/digits.csv.gz"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/digits/ATTRIBUTION.md"))
    }
}
