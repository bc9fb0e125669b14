import XCTest
import GSLKit
@testable import DiffusionPhysics

/// The clone endpoint labelling rules (nearest image, pixel vote, nearest-class-mean classifier),
/// the purities and the Nishimori identity, and the shift-aware gap ratio (Docs/LocalScores.md §7).
final class LocalScoreLabelTests: XCTestCase {
    static let shape = LocalScoreCloneTests.shape
    static let labels = LocalScoreCloneTests.labels
    static let images = LocalScoreCloneTests.images
    static let settings = LocalScoreCloneTests.settings

    func run<M: ScoreModel>(_ model: M, finalStep: FinalStep, label: CloneEndpointLabel = .finalComponent,
                            times: [Double] = LocalScoreCloneTests.times, pairs: Int = 48, seed: UInt64 = 7,
                            settings: SDESettings = LocalScoreLabelTests.settings) throws -> [CloneEstimate] {
        var e = CloningExperiment(model: model, settings: settings, threads: 2, finalStep: finalStep, endpointLabel: label)
        e.rules = try CloneLabelRules(model: model, images: Self.images)
        return try e.run(branchTimes: times, pairs: pairs, seed: seed)
    }

    /// Exact draws land on training images and, at t_min = 0.01 on these well-separated images, the
    /// posterior has collapsed: nearest image, vote and classifier all give the drawn point's class.
    /// The full-window LS (P = 9 = 2·5 − 1) is the exact score: every rule's φ and both purities agree
    /// with the exact score's on the same seeds, and its vote equals its nearest-image label.
    func testRulesAgreeWhereTheyMust() throws {
        let exact = try EmpiricalScore(points: Self.images, labels: Self.labels)
        // The classifier labels every training image by its class (precondition of the next check).
        XCTAssertEqual(try NearestClassMeanClassifier(images: Self.images, classes: Self.labels).classify(Self.images), Self.labels)
        let drawn = try run(exact, finalStep: .posteriorDraw)
        let plain = try CloningExperiment(model: exact, settings: Self.settings, threads: 2)
            .run(branchTimes: LocalScoreCloneTests.times, pairs: 48, seed: 7)
        XCTAssertEqual(drawn.map { var e = $0; e.rules = nil; return e }, plain, "the rules leave the default estimate unchanged")
        for e in drawn {
            let r = try XCTUnwrap(e.rules)
            XCTAssertEqual(r.finalComponent, e.sameClass)
            XCTAssertEqual(r.nearestImage, r.finalComponent)
            XCTAssertEqual(r.pixelVote, r.finalComponent)
            XCTAssertEqual(r.classifier, r.finalComponent)
            XCTAssertEqual(r.sameNearestImage, e.sameComponent)
            XCTAssertGreaterThan(r.endpointPurity.mean, 1 - 1e-9, "collapsed at t_min: one class holds all the mass")
        }
        let reference = try run(exact, finalStep: .posteriorMean, label: .nearestImage(Self.images))
        let full = try run(LocalScore(machine: .ls, images: Self.images, shape: Self.shape, patch: .fixed(9), labels: Self.labels),
                           finalStep: .posteriorMean, label: .nearestImage(Self.images))
        for (e, l) in zip(reference, full) {
            let re = try XCTUnwrap(e.rules), rl = try XCTUnwrap(l.rules)
            for rule in CloneLabelRule.allCases { XCTAssertEqual(re.phi(rule).mean, rl.phi(rule).mean, accuracy: 1e-12, "\(rule)") }
            XCTAssertEqual(re.branchPurity.mean, rl.branchPurity.mean, accuracy: 1e-10)
            XCTAssertEqual(re.endpointPurity.mean, rl.endpointPurity.mean, accuracy: 1e-10)
            XCTAssertEqual(rl.pixelVote, rl.nearestImage)
            XCTAssertEqual(rl.nearestImage, l.sameClass)
        }
    }

    /// Nishimori: for the exact posterior E[1{class_A = class_B} | x_t] = Σ_c p_c(x_t)², so φ (exact
    /// draws, 200 steps) and the branch purity agree within 4 binomial SE (the SE of the per-pair
    /// difference is smaller: its variance is E[q(1 − q)] ≤ φ(1 − φ)). For LS at P = 1 (each pixel
    /// decides alone) the pixel-averaged class masses at x_t do not predict φ: the gap exceeds 5 SE.
    func testNishimoriHoldsForTheExactScoreAndFailsForSmallPatches() throws {
        let exact = try EmpiricalScore(points: Self.images, labels: Self.labels)
        let fine = SDESettings(horizon: 5, tMin: 0.01, steps: 200, scheme: .exactOU)
        for e in try run(exact, finalStep: .posteriorDraw, times: [0.8, 1.5, 2, 2.5], pairs: 400, seed: 11, settings: fine) {
            let r = try XCTUnwrap(e.rules)
            // Per pair, 1{same} − q has mean 0 and variance ≤ φ(1 − φ): SE of the difference ≤ binomial SE.
            let se = r.finalComponent.standardError
            XCTAssertLessThan(abs(r.finalComponent.mean - r.branchPurity.mean), 4 * se, "t = \(e.t)")
            XCTAssertGreaterThan(r.branchPurity.mean, 0.5 - 1e-12)   // Σ p_c² ≥ 1/K
        }
        let local = try LocalScore(machine: .ls, images: Self.images, shape: Self.shape, patch: .fixed(1), labels: Self.labels)
        let gaps = try run(local, finalStep: .posteriorMean, label: .nearestImage(Self.images), times: [0.3, 0.8, 1.5], pairs: 400, seed: 11)
            .map { e -> Double in
                let r = e.rules!
                return abs(r.nearestImage.mean - r.branchPurity.mean) / r.nearestImage.standardError
            }
        XCTAssertGreaterThan(gaps.max()!, 5, "P = 1: φ and the local purity should differ (gaps in SE: \(gaps))")
    }

    /// The nearest-class-mean classifier on two well-separated classes: class means, training images and
    /// points near each mean get their class; a swapped labelling gets them wrong.
    func testNearestClassMeanClassifier() throws {
        let rng = RandomStream(seed: 42, stream: 1)
        let classes = [1, 0, 1, 0, 0, 1]
        let images = Matrix(rowArrays: classes.map { c in (0..<6).map { j in (c == 0 ? 5.0 : -5.0) * Double(j % 2) + 0.3 * rng.gaussian() } })
        let clf = try NearestClassMeanClassifier(images: images, classes: classes)
        for c in 0..<2 {
            let members = classes.indices.filter { classes[$0] == c }
            for j in 0..<6 {
                XCTAssertEqual(clf.means[c, j], members.map { images[$0, j] }.reduce(0, +) / Double(members.count), accuracy: 1e-14)
            }
        }
        XCTAssertEqual(clf.classify(clf.means), [0, 1])
        XCTAssertEqual(clf.classify(images), classes)
        let swapped = try NearestClassMeanClassifier(images: images, classes: classes.map { 1 - $0 })
        XCTAssertEqual(swapped.classify(images), classes.map { 1 - $0 })
        XCTAssertThrowsError(try NearestClassMeanClassifier(images: images, classes: [0, 0, 2, 0, 0, 2]))
    }

    // MARK: - Shift-aware gap ratio

    static let shiftShape = try! ImageShape(height: 6, width: 5, channels: 2)
    static let shiftImages: Matrix<Double> = {
        let rng = RandomStream(seed: 1607, stream: 1)
        return Matrix(rowArrays: (0..<6).map { _ in (0..<60).map { _ in rng.gaussian() } })
    }()

    /// T_s a (row shift sr, column shift sc), written directly.
    func shifted(_ a: [Double], _ sr: Int, _ sc: Int, shape s: ImageShape) -> [Double] {
        var out = a
        for row in 0..<s.height {
            for col in 0..<s.width {
                let src = ((row - sr + s.height) % s.height) * s.width + (col - sc + s.width) % s.width
                for c in 0..<s.channels { out[(row * s.width + col) * s.channels + c] = a[src * s.channels + c] }
            }
        }
        return out
    }

    /// The FFT cross-correlation equals the direct sum x · T_s a at every shift (C = 2, 6 × 5).
    func testCircularCorrelationEqualsDirectSums() throws {
        let s = Self.shiftShape, fft = try CircularCorrelator(height: 6, width: 5, channels: 2)
        let x = Self.shiftImages.row(0), a = Self.shiftImages.row(1)
        let r = fft.correlation(fft.spectrum(x[...]), fft.spectrum(a[...]))
        for sr in 0..<6 {
            for sc in 0..<5 {
                let direct = zip(x, shifted(a, sr, sc, shape: s)).reduce(0) { $0 + $1.0 * $1.1 }
                XCTAssertEqual(r[sr * 5 + sc], direct, accuracy: 1e-10)
            }
        }
    }

    /// A circularly shifted training image has shift-aware gap ratio 0 (found with its shift) while
    /// its plain gap ratio is not small; restricted to zero shift the shift-aware ratio is the plain one;
    /// allowing shifts can only lower d₁/d₂'s numerator.
    func testShiftAwareGapRatio() throws {
        let s = Self.shiftShape, imgs = Self.shiftImages
        let copy = shifted(imgs.row(4), 2, 3, shape: s)
        let rng = RandomStream(seed: 5, stream: 2)
        let noise = (0..<3).map { _ in (0..<60).map { _ in rng.gaussian() } }
        let samples = Matrix(rowArrays: [copy] + noise + [imgs.row(2)])
        let aware = try ShiftAwareNeighbours.find(samples: samples, images: imgs, shape: s)
        let plain = NearestNeighbours.find(samples: samples, points: imgs)
        XCTAssertEqual(aware[0].nearest, 4)
        XCTAssertEqual(aware[0].shift, [2, 3])
        XCTAssertEqual(aware[0].gapRatio, 0, accuracy: 1e-12)
        XCTAssertGreaterThan(plain[0].gapRatio!, 1.0 / 3, "the shifted copy is not memorised without shifts")
        XCTAssertEqual(aware[4].gapRatio, 0, accuracy: 1e-12)
        XCTAssertEqual(aware[4].shift, [0, 0])
        for (a, p) in zip(aware, plain) { XCTAssertLessThanOrEqual(a.nearestDistance, p.nearestDistance + 1e-12) }
        let none = try ShiftAwareNeighbours.find(samples: samples, images: imgs, shape: s, maxShift: 0)
        for (a, p) in zip(none, plain) {
            XCTAssertEqual(a.nearest, p.nearest)
            XCTAssertEqual(a.shift, [0, 0])
            XCTAssertEqual(a.gapRatio, p.gapRatio!, accuracy: 1e-12)
        }
        // maxShift 1 finds a (1, −1) shift but not the (2, 3) one.
        let near = try ShiftAwareNeighbours.find(samples: Matrix(rowArrays: [shifted(imgs.row(1), 1, 4, shape: s), copy]),
                                                 images: imgs, shape: s, maxShift: 1)
        XCTAssertEqual(near[0].shift, [1, 4])
        XCTAssertEqual(near[0].gapRatio, 0, accuracy: 1e-12)
        XCTAssertGreaterThan(near[1].gapRatio, 1.0 / 3)
    }

    /// f_mem: shifted copies of training images are memorised only by the shift-aware rule.
    func testShiftAwareMemorisedFraction() throws {
        let s = try ImageShape(height: 5, width: 5)
        let imgs = Self.images
        let model = try LocalScore(machine: .elsCirc, images: imgs, shape: s, patch: .fixed(3), labels: Self.labels)
        let samples = Matrix(rowArrays: (0..<4).map { shifted(imgs.row($0), $0 + 1, 2, shape: s) })
        let m = try LocalMemorization.measure(model: model, samples: samples, lastStates: samples, tLast: 0.01, seed: 1, shiftAware: true)
        XCTAssertEqual(m.fraction, 0)
        XCTAssertEqual(try XCTUnwrap(m.shiftAwareFraction).mean, 1)
        XCTAssertEqual(m.shiftAware!.map(\.nearest), [0, 1, 2, 3])
        let plain = try LocalMemorization.measure(model: model, samples: samples, lastStates: samples, tLast: 0.01, seed: 1)
        XCTAssertNil(plain.shiftAwareFraction)
        XCTAssertEqual(plain.fractionStderr, m.fractionStderr)
    }
}
