import Foundation
import XCTest

/// The package's shape (Docs/Engine.md "Layers"): raw pointers only in GSLKit, no unsafe flags.
final class ArchitectureTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func swiftFiles(under folder: String) throws -> [URL] {
        let base = root.appendingPathComponent(folder)
        guard let e = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        return e.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
    }

    /// No Swift file above GSLKit mentions an `Unsafe…` pointer API: pointer work is sealed in
    /// GSLKit (the engine's `PosteriorRows` handle, the GSL wrappers, BLAS).
    func testNoPointersAboveGSLKit() throws {
        let targets = ["Sources/DiffusionPhysics", "Sources/DiffusionStudies", "Sources/DiffusionBench", "Sources/diffphys"]
        var checked = 0
        for target in targets {
            for file in try Self.swiftFiles(under: target) {
                let text = try String(contentsOf: file, encoding: .utf8)
                checked += 1
                for (k, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where line.contains("Unsafe") {
                    XCTFail("\(file.path):\(k + 1) uses a pointer API above GSLKit: \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        XCTAssertGreaterThan(checked, 40, "found the sources")
    }

    /// The manifest passes no unsafe flags (a package with them cannot be a dependency), and each
    /// library target imports only the layers below it.
    func testManifestAndLayers() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        XCTAssertFalse(manifest.contains(".unsafeFlags("), "Package.swift uses unsafeFlags")
        let forbidden: [String: [String]] = [
            "Sources/GSLKit": ["DiffusionPhysics", "DiffusionStudies", "DiffusionBench", "ArgumentParser"],
            "Sources/DiffusionPhysics": ["DiffusionStudies", "DiffusionBench", "ArgumentParser"],
            "Sources/DiffusionStudies": ["DiffusionBench", "ArgumentParser"],
            "Sources/DiffusionBench": ["DiffusionStudies", "ArgumentParser"],
        ]
        for (target, modules) in forbidden {
            for file in try Self.swiftFiles(under: target) {
                let text = try String(contentsOf: file, encoding: .utf8)
                for m in modules where text.contains("import \(m)\n") {
                    XCTFail("\(file.lastPathComponent) in \(target) imports \(m), a layer above it")
                }
            }
        }
        // Gnuplot and the studies live outside the physics core.
        for file in try Self.swiftFiles(under: "Sources/DiffusionPhysics") {
            let text = try String(contentsOf: file, encoding: .utf8)
            XCTAssertFalse(text.contains("Process()"), "\(file.lastPathComponent): the core runs no external programs")
        }
    }
}
