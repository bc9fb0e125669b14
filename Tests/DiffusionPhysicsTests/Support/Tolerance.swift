import Foundation
import XCTest

/// |a − b| ≤ tol·max(1, |b|) with a message naming both values.
func assertClose(_ a: Double, _ b: Double, relative tol: Double, _ what: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssert(abs(a - b) <= tol * max(1, abs(b)), "\(what): \(a) vs \(b) (tol \(tol))", file: file, line: line)
}

/// |a − b| ≤ tol.
func assertWithin(_ a: Double, _ b: Double, _ tol: Double, _ what: String = "",
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssert(abs(a - b) <= tol, "\(what): \(a) vs \(b) (|diff| = \(abs(a - b)) > \(tol))", file: file, line: line)
}

/// Measured value within k standard errors of the expectation.
func assertWithinSE(_ measured: Double, _ expected: Double, se: Double, k: Double = 3.5, _ what: String = "",
                    file: StaticString = #filePath, line: UInt = #line) {
    XCTAssert(abs(measured - expected) <= k * se,
              "\(what): \(measured) vs \(expected), \(abs(measured - expected) / max(se, 1e-300)) SE (SE \(se))",
              file: file, line: line)
}
