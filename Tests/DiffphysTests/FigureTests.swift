import DiffusionStudies
import Foundation
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Figures: the format follows the extension (PNG magic, PDF header, SVG that parses as XML), the
/// `.gp` script re-renders from its own folder, and log axes get labelled ticks.
final class FigureTests: XCTestCase {
    private func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("diffphys-figures-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    private func requireGnuplot() throws {
        guard Gnuplot.isAvailable else { throw XCTSkip("gnuplot not installed") }
    }

    /// PNG starts with its 8-byte signature, PDF with "%PDF", SVG is an XML document with an <svg> root.
    static func checkFormat(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        switch (path as NSString).pathExtension {
        case "png": XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(path) is not a PNG", file: file, line: line)
        case "pdf": XCTAssertEqual(String(decoding: data.prefix(5), as: UTF8.self), "%PDF-", "\(path) is not a PDF", file: file, line: line)
        case "svg":
            let parser = XMLParser(data: data)
            let root = RootElement()
            parser.delegate = root
            XCTAssertTrue(parser.parse(), "\(path) is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")", file: file, line: line)
            XCTAssertEqual(root.name, "svg", "\(path): root element", file: file, line: line)
        default: XCTFail("unexpected figure \(path)", file: file, line: line)
        }
    }

    final class RootElement: NSObject, XMLParserDelegate {
        var name: String?
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == nil { name = elementName }
        }
    }

    func testFormatFollowsExtensionAndScriptRerendersFromItsFolder() throws {
        try requireGnuplot()
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "x y e\n1 0.2 0.05\n2 0.5 0.05\n3 0.9 0.05\n".write(toFile: dir + "/curve.dat", atomically: true, encoding: .utf8)
        // Titles with enhanced text, Greek letters and an ampersand must survive every format (SVG escapes them).
        let script = """
        set title 'φ_∞(τ) & E[Y2] (±1 SE)'
        \(Gnuplot.verticalLine(at: 2, label: "t_S = ½ ln(1+Λ)", colour: "blue", tag: 1))
        plot '\(dir)/curve.dat' every ::1 using 1:2:3 with yerrorbars title 'measured', x/3 with lines title 'theory: x/3'
        """
        for format in Gnuplot.Format.allCases {
            let figure = dir + "/figure." + format.rawValue
            try Gnuplot.render(script: script, to: figure, width: 500, height: 350)
            try Self.checkFormat(figure)
        }
        // The script names files relative to its folder and re-renders there in any format.
        let gp = try String(contentsOfFile: dir + "/figure.gp", encoding: .utf8)
        XCTAssertFalse(gp.contains(dir), "the .gp script holds the absolute folder")
        XCTAssertTrue(gp.contains("'curve.dat'"))
        for format in Gnuplot.Format.allCases {
            try? FileManager.default.removeItem(atPath: dir + "/figure." + format.rawValue)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["gnuplot", "-e", "fmt='\(format.rawValue)'", "figure.gp"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            try Self.checkFormat(dir + "/figure." + format.rawValue)
        }
    }

    func testUnknownExtensionIsOneClearError() throws {
        XCTAssertThrowsError(try Gnuplot.render(script: "plot x", to: "/tmp/figure.jpg")) { error in
            XCTAssertTrue("\(error)".contains(".png, .pdf or .svg"), "\(error)")
        }
        let r = try CLI.run(["overview", "--data", "gmm2:d=8,n=50", "--plot", "/tmp/overview.gif"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(".png, .pdf or .svg"), r.stderr)
    }

    /// The CLI writes each format by the extension of --plot.
    func testOverviewPlotFormats() throws {
        try requireGnuplot()
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for format in Gnuplot.Format.allCases {
            let figure = dir + "/overview." + format.rawValue
            let r = try CLI.run(["overview", "--data", "gmm2:d=16,n=100", "--samples", "100", "--points", "8", "--plot", figure, "--quiet"])
            XCTAssertEqual(r.status, 0, r.stderr)
            try Self.checkFormat(figure)
            XCTAssertTrue(r.stderr.isEmpty, "--quiet: \(r.stderr)")
        }
        let gp = try String(contentsOfFile: dir + "/overview.gp", encoding: .utf8)
        XCTAssertTrue(gp.contains("t_S = ½ ln(1+Λ) ="), "overview labels the primary t_S")
        XCTAssertTrue(gp.contains("t_C eq. 10"), "overview labels its t_C line")
        XCTAssertTrue(gp.contains("title 'theory:"), "overview draws the φ theory")
    }

    func testLogTicks() {
        let table: [(lo: Double, hi: Double, ticks: [Double])] = [
            (0.01, 1, [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]),
            (0.03, 0.12, [0.05, 0.1]),
            (0.3, 0.45, [0.3, 0.4]),              // narrower than 1-2-5: the 1…9 sequence
            (1.5, 30, [2, 5, 10, 20]),
        ]
        for row in table {
            let ticks = Gnuplot.logTicks(from: row.lo, to: row.hi)
            XCTAssertEqual(ticks.count, row.ticks.count, "\(row): \(ticks)")
            for (a, b) in zip(ticks, row.ticks) { XCTAssertEqual(a, b, accuracy: 1e-12 * b, "\(row)") }
        }
    }
}
