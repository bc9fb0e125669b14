import Foundation
import XCTest

/// The typed option groups: every option's help gives its default, library errors name the flag.
final class OptionGroupTests: XCTestCase {
    /// Option entries of `--help` (continuation lines joined), without -h/--help and flags.
    func optionEntries(_ command: [String]) throws -> [String] {
        let r = try CLI.run(command + ["--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var entries: [String] = [], inOptions = false
        for line in r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("OPTIONS:") { inOptions = true; continue }
            guard inOptions else { continue }
            if line.hasPrefix("  -") { entries.append(line) } else if line.hasPrefix("     "), !entries.isEmpty { entries[entries.count - 1] += " " + line.trimmingCharacters(in: .whitespaces) }
        }
        return entries.filter { $0.contains("<") && !$0.contains("--help") }
    }

    func testEveryOptionHelpGivesItsDefault() throws {
        let required: Set<String> = ["--n <n>", "--out <out>"]   // memorization-map: required, no default
        for command in [["sample"], ["speciation"], ["collapse"], ["overview"], ["memorization-map"], ["score"], ["pfgm", "sample"]] {
            let entries = try optionEntries(command)
            XCTAssertFalse(entries.isEmpty, "\(command)")
            for e in entries where !required.contains(where: { e.contains($0) }) && !(command == ["score"] && (e.contains("--t <t>") || e.contains("--x <x>"))) {
                XCTAssert(e.contains("default"), "\(command): no default in '\(e)'")
            }
        }
        for command in [["sample"], ["speciation"], ["collapse"]] {
            let steps = try XCTUnwrap(try optionEntries(command).first { $0.contains("--steps <steps>") })
            XCTAssert(steps.contains("default: 400"), "\(command): \(steps)")
        }
    }

    /// `ModelError.parameter` → flag: errors found by the library name the flag that sets the value.
    func testLibraryErrorsNameFlags() throws {
        for (args, flag) in [(["speciation", "--data", "gmm2:d=8", "--times", "50", "--horizon", "10"], "--times"),
                             (["sample", "--data", "gmm2:d=4,n=10", "--t-min", "0"], "--t-min"),
                             (["collapse", "--data", "gaussian:d=4,n=20", "--steps", "0"], "--steps"),
                             (["sample", "--data", "gmm2:d=4,n=10", "--horizon", "0.0001"], "--horizon")] {
            let r = try CLI.run(args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssert(r.stderr.hasPrefix("Error: \(flag):"), "\(args): \(r.stderr)")
        }
    }

    /// `--grid uniform`/`geometric` reach the sampler (a different grid, a different path), hybrid is the default.
    func testGridOption() throws {
        let base = ["sample", "--data", "gmm2:d=3,n=20", "--samples", "4", "--final", "none", "--steps", "40", "--json"]
        let g = try CLI.run(base), d = try CLI.run(base + ["--grid", "hybrid"]), u = try CLI.run(base + ["--grid", "uniform"])
        let geo = try CLI.run(base + ["--grid", "geometric"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(u.status, 0, u.stderr)
        XCTAssertEqual(g.stdout, d.stdout)
        XCTAssertNotEqual(g.stdout, u.stdout)
        XCTAssertNotEqual(g.stdout, geo.stdout)
    }
}
