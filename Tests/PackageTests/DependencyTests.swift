import DiffusionPhysics
import Foundation
import XCTest

/// The library is usable as a versioned dependency: a consumer package that depends on
/// DiffusionPhysics through a tagged git URL (a local git repository holding this checkout's
/// manifest and sources, tagged 0.1.0) resolves, builds and computes the score, equal to the
/// in-process value.
final class DependencyTests: XCTestCase {
    func run(_ arguments: [String], in folder: URL) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.currentDirectoryURL = folder
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "DependencyTests", code: Int(p.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")) failed:\n\(text.suffix(4000))"])
        }
        return text
    }

    func testConsumerPackageBuildsAgainstTaggedClone() throws {
        let root = ArchitectureTests.root
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-consumer-\(getpid())")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let library = work.appendingPathComponent("DiffusionPhysics")
        try FileManager.default.createDirectory(at: library, withIntermediateDirectories: true)
        for item in ["Package.swift", "Sources"] {
            try FileManager.default.copyItem(at: root.appendingPathComponent(item), to: library.appendingPathComponent(item))
        }
        let git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
        _ = try run(git + ["init", "--quiet"], in: library)
        _ = try run(git + ["add", "-A"], in: library)
        _ = try run(git + ["commit", "--quiet", "-m", "snapshot"], in: library)
        _ = try run(git + ["tag", "0.1.0"], in: library)
        let consumer = work.appendingPathComponent("Consumer")
        try FileManager.default.createDirectory(at: consumer.appendingPathComponent("Sources/Consumer"), withIntermediateDirectories: true)
        try """
        // swift-tools-version:6.0
        import PackageDescription
        let package = Package(
            name: "Consumer",
            dependencies: [.package(url: "\(library.absoluteString)", from: "0.1.0")],
            targets: [.executableTarget(name: "Consumer", dependencies: [.product(name: "DiffusionPhysics", package: "DiffusionPhysics")])]
        )
        """.write(to: consumer.appendingPathComponent("Package.swift"), atomically: true, encoding: .utf8)
        try """
        import DiffusionPhysics
        let points = Matrix<Double>(rows: 3, columns: 2, storage: [0, 0, 1, 0, 0, 2])
        let score = try EmpiricalScore(points: points)
        let e = try score.evaluate(at: [0.3, 0.4], t: 0.5)
        print(e.score.map { String($0) }.joined(separator: " "))
        """.write(to: consumer.appendingPathComponent("Sources/Consumer/main.swift"), atomically: true, encoding: .utf8)
        let output = try run(["swift", "run", "--quiet", "Consumer"], in: consumer)
        let printed = output.split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        let expected = try EmpiricalScore(points: Matrix(rows: 3, columns: 2, storage: [0, 0, 1, 0, 0, 2]))
            .evaluate(at: [0.3, 0.4], t: 0.5).score
        XCTAssertEqual(printed.count, 2, "consumer output: \(output.suffix(500))")
        for (a, b) in zip(printed, expected) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b))) }
    }
}
