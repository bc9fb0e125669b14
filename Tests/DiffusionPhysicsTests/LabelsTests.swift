import Foundation
import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Labels from any format (issue 14, Docs/YourData.md): every route gives the same data set, hence
/// the same Λ, t_S and φ as the header-column CSV; pandas index columns are refused; missing labels
/// give the guiding message.
final class LabelsTests: XCTestCase {
    var tmp = ""

    override func setUpWithError() throws {
        tmp = NSTemporaryDirectory() + "/LabelsTests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: tmp) }

    func path(_ name: String) -> String { tmp + "/" + name }

    func write(_ text: String, _ name: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// Two Gaussian blobs (gmm2, d = 12, n = 120), the running example of the issue, scaled down.
    func blobs() throws -> Dataset {
        try DatasetSpec.parse("gmm2:d=12,n=120,mtilde=1,sigma=1").load(seed: 3)
    }

    /// Λ, t_S and the Rao–Blackwellised φ at three times (fixed seed) of a labelled data set.
    func fingerprint(_ data: Dataset) throws -> (lambda: Double, tS: Double, phi: [Double]) {
        let m = try SpeciationMeasurement(subject: .dataset(data, law: nil), threads: 1)
        let p = try m.predict()
        let r = try m.run(times: [0.6, 1.2, 1.8], count: 200, estimators: [.rb], seed: 5)
        return (p.lambda, p.tS.paper, r.phi.map(\.measured))
    }

    func row(_ m: Matrix<Double>, _ i: Int) -> String { m.rowSlice(i).map { "\($0)" }.joined(separator: ",") }

    func testEveryRouteGivesTheHeaderColumnResult() throws {
        let data = try blobs()
        let labels = data.labels!
        XCTAssertEqual(Set(labels), [0, 1])
        // Reference: CSV with a header column named `label` (the one route that existed).
        try data.writeCSV(to: path("ref.csv"))
        let reference = try DatasetSpec.parse(path("ref.csv")).load(seed: 0)
        XCTAssertEqual(reference.points, data.points)
        XCTAssertEqual(reference.labels, labels)
        let expected = try fingerprint(reference)
        XCTAssertGreaterThan(expected.lambda, 5)

        var routes: [(String, DatasetSpec)] = []
        // 1. NPY data + NPY integer labels.
        try data.writeNPY(to: path("x.npy"), labelsPath: path("y.npy"))
        routes.append(("npy + npy labels", try DatasetSpec.parse(path("x.npy")).withLabels(path("y.npy"), column: nil)))
        // 2. Headerless CSV, labels in the first column, chosen by index.
        let headerless = (0..<data.n).map { "\(labels[$0]),\(row(data.points, $0))" }.joined(separator: "\n")
        routes.append(("headerless CSV, --label-column 0",
                       try DatasetSpec.parse(try write(headerless, "h.csv")).withLabels(nil, column: "0")))
        // 3. String labels: a named text column (not called label) and a text .npy array.
        let names = labels.map { $0 == 0 ? "cat" : "dog" }
        let text = "species," + (0..<data.d).map { "f\($0)" }.joined(separator: ",") + "\n"
            + (0..<data.n).map { "\(names[$0]),\(row(data.points, $0))" }.joined(separator: "\n")
        routes.append(("CSV text column, --label-column species",
                       try DatasetSpec.parse(try write(text, "s.csv")).withLabels(nil, column: "species")))
        try NPYLoader.write(textLabels: names, to: path("names.npy"))
        routes.append(("npy + text npy labels", try DatasetSpec.parse(path("x.npy")).withLabels(path("names.npy"), column: nil)))
        // 4. IDX labels (1-D uint8) beside NPY data; and a one-column text file.
        let idx: [UInt8] = [0, 0, 8, 1, 0, 0, 0, UInt8(data.n)] + labels.map { UInt8($0) }
        try Data(idx).write(to: URL(fileURLWithPath: path("train-labels-idx1-ubyte")))
        routes.append(("npy + IDX labels", try DatasetSpec.parse(path("x.npy")).withLabels(path("train-labels-idx1-ubyte"), column: nil)))
        routes.append(("npy + labels.txt", try DatasetSpec.parse(path("x.npy"))
            .withLabels(try write(names.joined(separator: "\n") + "\n", "labels.txt"), column: nil)))
        // 5. The spec text itself (what outputs print) parses back and loads the same.
        let inline = try DatasetSpec.parse("\(path("x.npy"));labels=\(path("y.npy"))")
        XCTAssertEqual(try DatasetSpec.parse(inline.description), inline)
        routes.append(("inline ;labels=", inline))

        for (name, spec) in routes {
            let loaded = try spec.load(seed: 0)
            XCTAssertEqual(loaded.points, data.points, name)
            XCTAssertEqual(loaded.labels, labels, name)
            let f = try fingerprint(loaded)
            XCTAssertEqual(f.lambda, expected.lambda, name)
            XCTAssertEqual(f.tS, expected.tS, name)
            XCTAssertEqual(f.phi, expected.phi, name)
        }
        // Class names are carried for text labels.
        let named = try routes[2].1.load(seed: 0)
        XCTAssertEqual(named.classNames, ["cat", "dog"])
        XCTAssertEqual(named.className(1), "dog")
        XCTAssertEqual(try routes[3].1.load(seed: 0).classNames, ["cat", "dog"])
        XCTAssertNil(reference.classNames)
    }

    func testPandasIndexColumnIsRefused() throws {
        let body = (0..<6).map { "\($0),\(Double($0) * 0.5),\(1 - Double($0)),\($0 % 2)" }.joined(separator: "\n")
        for header in [",x0,x1,label", "Unnamed: 0,x0,x1,label", "index,x0,x1,label"] {
            XCTAssertThrowsError(try CSVLoader.parse(header + "\n" + body, source: "p.csv")) { e in
                let m = "\(e)"
                XCTAssertTrue(m.contains("pandas index") && m.contains("index=False") && !m.contains("\n"), m)
            }
        }
        // Headerless pandas output (header=False): first column exactly 0, 1, 2, …
        let plain = (0..<6).map { "\($0),\(Double($0) * 0.5),\(1 - Double($0)),\(Double($0) * 0.25)" }.joined(separator: "\n")
        XCTAssertThrowsError(try CSVLoader.parse(plain, source: "q.csv", label: .none))
        // A named first column is a feature; so is a non-consecutive one.
        XCTAssertEqual(try CSVLoader.parse("t,x0,x1,label\n" + body).d, 3)
        XCTAssertEqual(try CSVLoader.parse("3,1,2,4\n1,1,2,4\n2,0,0,1\n", label: .none).d, 4)
        // pandas Series.to_csv labels (index column, then values) are read as labels.
        let series = try LabelLoader.parseCSV(Array(",0\n0,cat\n1,dog\n2,cat\n".utf8), source: "y.csv")
        XCTAssertEqual(series.values, [0, 1, 0])
        XCTAssertEqual(series.names, ["cat", "dog"])
    }

    func testLabelFileFormsAndErrors() throws {
        // Header detection on one text column: a usual header word, or a value seen once among repeats.
        XCTAssertEqual(try LabelLoader.parseCSV(Array("label\nb\na\nb\n".utf8), source: "l").values, [1, 0, 1])
        XCTAssertEqual(try LabelLoader.parseCSV(Array("species\nb\na\nb\na\n".utf8), source: "l").names, ["a", "b"])
        XCTAssertEqual(try LabelLoader.parseCSV(Array("y\n3\n5\n".utf8), source: "l").values, [3, 5])
        XCTAssertEqual(try LabelLoader.parseCSV(Array("id,target\n7,1\n8,0\n".utf8), source: "l").values, [1, 0])
        XCTAssertEqual(try LabelLoader.parseCSV(Array("id,kind\n7,1\n8,0\n".utf8), source: "l", column: "kind").values, [1, 0])
        XCTAssertThrowsError(try LabelLoader.parseCSV(Array("id,kind\n7,1\n8,0\n".utf8), source: "l")) { e in
            XCTAssertTrue("\(e)".contains("--label-column"), "\(e)")
        }
        XCTAssertThrowsError(try LabelLoader.parseCSV(Array("1\n2.5\n".utf8), source: "l"))
        // Mismatched counts name both files.
        let data = try blobs()
        try data.writeNPY(to: path("x.npy"))
        try NPYLoader.write(labels: [0, 1, 0], to: path("short.npy"))
        XCTAssertThrowsError(try DatasetSpec.parse(path("x.npy")).withLabels(path("short.npy"), column: nil).load(seed: 0)) { e in
            XCTAssertTrue("\(e)".contains("3 labels for the 120 points"), "\(e)")
        }
        // A label column on .npy data, and labels on a generated data set, are refused.
        XCTAssertThrowsError(try DatasetSpec.parse(path("x.npy")).withLabels(nil, column: "3").load(seed: 0))
        XCTAssertThrowsError(try DatasetSpec.parse("gmm2:d=4,n=10").withLabels(path("short.npy"), column: nil))
        // Text labels in a feature column point to --label-column.
        XCTAssertThrowsError(try CSVLoader.parse("a,b,kind\n1,2,x\n3,4,y\n", source: "k.csv")) { e in
            XCTAssertTrue("\(e)".contains("--label-column kind"), "\(e)")
        }
    }

    func testMissingLabelsMessageSaysTheThreeWays() throws {
        let data = try blobs()
        let unlabelled = try Dataset(points: data.points, name: "blobs.npy")
        XCTAssertThrowsError(try SpeciationMeasurement(subject: .dataset(unlabelled, law: nil))) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("--labels") && m.contains("--label-column") && m.contains("'label'"), m)
            XCTAssertFalse(m.contains("\n"))
        }
    }

    func testNDimensionalNPYIsFlattened() throws {
        let values = (0..<24).map(Double.init)
        try NPYLoader.write(values: values, shape: [2, 3, 4], to: path("a.npy"))
        let a = try NPYLoader.readArray(path: path("a.npy"))
        XCTAssertEqual(a.shape, [2, 3, 4])
        XCTAssertEqual(a.values, values)
        let d = try NPYLoader.load(path: path("a.npy"))
        XCTAssertEqual(d.n, 2)
        XCTAssertEqual(d.d, 12)
        XCTAssertEqual(d.points.row(1), Array(values[12...]))
    }
}
