import Foundation
import XCTest

/// Every document reference in the code, help texts and study files resolves inside the repository
/// (issue 15): `Docs/X.md` exists; `§N` or `§N.M` (also ranges `§3.3–3.4` and lists `§5, §8`) is an
/// anchor `<a id="sec-N">` of the page cited (a bare `§` refers to the page cited last before it in
/// the same file); a quoted heading after a page (`Docs/Engine.md "Threads"`) is a heading of it;
/// a bare `X.md` names a file in the repo or an output file the program writes.
final class DocsReferenceTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Files the program writes (report.md, index.md) are outputs, not documents.
    static let outputNames: Set<String> = ["report.md", "index.md"]

    /// Files to scan: Swift, C and study files under Sources, MPI/Sources, Analyses.
    func scannedFiles() -> [String] {
        var files: [String] = []
        for top in ["Sources", "MPI/Sources", "Analyses"] {
            let base = Self.root.appendingPathComponent(top).path
            guard let e = FileManager.default.enumerator(atPath: base) else { continue }
            for case let rel as String in e where [".swift", ".h", ".c", ".inc", ".json"].contains(where: rel.hasSuffix) {
                files.append(base + "/" + rel)
            }
        }
        return files.sorted()
    }

    struct Page {
        var anchors: Set<String>
        var headings: [String]
    }

    func page(_ name: String, cache: inout [String: Page?]) -> Page? {
        if let p = cache[name] { return p }
        let path = Self.root.appendingPathComponent(name).path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { cache[name] = .some(nil); return nil }
        var anchors = Set<String>(), headings: [String] = []
        let anchor = try! NSRegularExpression(pattern: #"<a id="([^"]+)">"#)
        for m in anchor.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            anchors.insert(String(text[Range(m.range(at: 1), in: text)!]))
        }
        for line in text.split(separator: "\n") where line.hasPrefix("#") {
            headings.append(line.drop { $0 == "#" || $0 == " " }.lowercased())
        }
        let p = Page(anchors: anchors, headings: headings)
        cache[name] = p
        return p
    }

    /// Section numbers in a § expression: "3.3–3.4" → [3.3, 3.4]; "5, §8" handled by the caller.
    func sections(_ expr: String) -> [String] {
        expr.split(whereSeparator: { $0 == "–" || $0 == "-" }).map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ". ")) }
            .filter { !$0.isEmpty }
    }

    func testEveryDocumentReferenceResolves() throws {
        let token = try NSRegularExpression(pattern: #"(Docs/[A-Za-z_]+\.md|[A-Za-z_]+\.md)(?: \"([^\"]+)\")?|§ ?([0-9]+(?:\.[0-9]+)?(?:[–-][0-9]+(?:\.[0-9]+)?)?)"#)
        var cache: [String: Page?] = [:]
        var failures: [String] = []
        var checked = 0
        for file in scannedFiles() {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            let rel = String(file.dropFirst(Self.root.path.count + 1))
            var current: String? = nil
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let s = String(line)
                for m in token.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                    let at = "\(rel):\(number + 1)"
                    if let r = Range(m.range(at: 1), in: s) {
                        var name = String(s[r])
                        if !name.hasPrefix("Docs/") {
                            if Self.outputNames.contains(name) { continue }
                            // A bare page name: a Docs page, or a file at the repo root.
                            if page("Docs/" + name, cache: &cache) != nil { name = "Docs/" + name }
                        }
                        checked += 1
                        guard let p = page(name, cache: &cache) else { failures.append("\(at): \(name) does not exist"); continue }
                        current = name
                        if let q = Range(m.range(at: 2), in: s) {
                            let heading = s[q].lowercased()
                            if !p.headings.contains(where: { $0.contains(heading) }) && !p.anchors.contains(heading) {
                                failures.append("\(at): \(name) has no heading \"\(s[q])\"")
                            }
                        }
                    } else if let r = Range(m.range(at: 3), in: s) {
                        checked += 1
                        guard let name = current, let p = page(name, cache: &cache) else {
                            failures.append("\(at): §\(s[r]) cites no page (name Docs/….md before it)")
                            continue
                        }
                        for sec in sections(String(s[r])) where !p.anchors.contains("sec-" + sec) {
                            failures.append("\(at): \(name) has no §\(sec) (anchor sec-\(sec))")
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 100, "the scan found too few references to be working")
        XCTAssertTrue(failures.isEmpty, "unresolved document references:\n" + failures.joined(separator: "\n"))
    }

    /// The checker itself: a missing page, a missing § and a missing heading are caught.
    func testCheckerCatchesBrokenReferences() {
        var cache: [String: Page?] = [:]
        XCTAssertNil(page("Docs/NoSuchPage.md", cache: &cache))
        let theory = page("Docs/Theory.md", cache: &cache)
        XCTAssertNotNil(theory)
        XCTAssertTrue(theory!.anchors.contains("sec-2.1"))
        XCTAssertFalse(theory!.anchors.contains("sec-99"))
        XCTAssertEqual(sections("3.3–3.4"), ["3.3", "3.4"])
        XCTAssertEqual(sections("2.2."), ["2.2"])
    }
}
