import XCTest
import GSLKit
@testable import DiffusionPhysics

/// Speciation clones with a local machine, endpoints labelled by the nearest training image
/// (Docs/LocalScores.md §7): at the full window (P ≥ 2·max(H, W) − 1) LS is the exact score
/// (§2 item 1), so on the same seeds it gives the exact score's φ(t); at an intermediate P it does not.
final class LocalScoreCloneTests: XCTestCase {
    static let shape = try! ImageShape(height: 5, width: 5)
    /// Eight seeded 5×5 images in two classes: class offset ±0.7 plus unit Gaussian noise.
    static let labels = [0, 0, 0, 0, 1, 1, 1, 1]
    static let images: Matrix<Double> = {
        let rng = RandomStream(seed: 1601, stream: 3)
        return Matrix(rowArrays: labels.map { c in (0..<25).map { _ in (c == 0 ? 0.7 : -0.7) + rng.gaussian() } })
    }()
    static let settings = SDESettings(horizon: 4, tMin: 0.01, steps: 60, scheme: .exactOU)
    static let times = [0.15, 0.5, 1.5]

    func clones<M: ScoreModel>(_ model: M, finalStep: FinalStep = .posteriorMean,
                               label: CloneEndpointLabel = .nearestImage(images)) throws -> [CloneEstimate] {
        try CloningExperiment(model: model, settings: Self.settings, threads: 2, finalStep: finalStep, endpointLabel: label)
            .run(branchTimes: Self.times, pairs: 48, seed: 7)
    }

    func testFullWindowLSReproducesExactClonesAndIntermediatePatchDoesNot() throws {
        let exact = try EmpiricalScore(points: Self.images, labels: Self.labels)
        let reference = try clones(exact)
        let full = try clones(LocalScore(machine: .ls, images: Self.images, shape: Self.shape, patch: .fixed(9), labels: Self.labels))
        XCTAssertEqual(reference.map(\.t), full.map(\.t))
        for (e, l) in zip(reference, full) {
            XCTAssertEqual(e.sameClass!.mean, l.sameClass!.mean, accuracy: 1e-12)
            XCTAssertEqual(e.sameComponent.mean, l.sameComponent.mean, accuracy: 1e-12)
            // Binomial standard error √(φ(1 − φ)/pairs).
            let phi = l.sameClass!.mean
            XCTAssertEqual(l.sameClass!.standardError, (phi * (1 - phi) / 48).squareRoot(), accuracy: 1e-15)
        }
        // Late branching: the clones of the exact score end on the same image.
        XCTAssertGreaterThan(reference[0].sameClass!.mean, 0.9)
        let local = try clones(LocalScore(machine: .ls, images: Self.images, shape: Self.shape, patch: .fixed(3), labels: Self.labels))
        let gap = zip(reference, local).map { abs($0.sameComponent.mean - $1.sameComponent.mean) }.max()!
        XCTAssertGreaterThan(gap, 0.1, "P = 3 mosaics should not reproduce the exact clones")
    }

    /// With exact posterior draws the endpoint is a training image, so its nearest image is the drawn
    /// one: the nearest-image rule equals the default component rule, pair by pair.
    func testNearestImageEqualsDrawnComponentForExactDraws() throws {
        let exact = try EmpiricalScore(points: Self.images, labels: Self.labels)
        let byDraw = try clones(exact, finalStep: .posteriorDraw, label: .finalComponent)
        let byNearest = try clones(exact, finalStep: .posteriorDraw)
        XCTAssertEqual(byDraw, byNearest)
        let wrong = Matrix<Double>(rows: 3, columns: 25)
        XCTAssertThrowsError(try clones(exact, label: .nearestImage(wrong)))
    }
}
