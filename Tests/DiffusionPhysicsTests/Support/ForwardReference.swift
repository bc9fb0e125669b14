import Foundation
import GSLKit
@testable import DiffusionPhysics

/// The straightforward per-time forward-sampling protocol (the papers' code), written
/// independently of `ForwardEnsemble` as the reference of its tests: for each time, build every
/// x = b e^{−t} + √Δ_t ξ from the same draws (stream (seed, i, `.forward`)), evaluate the score
/// on one batch, and read the statistics off the workspace.
enum ForwardReference {
    static func estimate(score: EmpiricalScore, times: [Double], samples: Int, origins: ForwardOrigins,
                         seed: UInt64) throws -> [ForwardEstimate] {
        let d = score.dimension, posterior = score.posterior
        let points: Matrix<Double>
        var originClasses: [Int]? = nil
        var planted = true
        switch origins {
        case .planted:
            points = score.points
            originClasses = posterior.classIndex
        case .fresh(let m, let labels):
            points = m
            planted = false
            originClasses = labels.map { $0.map { posterior.classLabels.firstIndex(of: $0)! } }
        }
        let draws: [(origin: Int, noise: [Double])] = (0..<samples).map { i in
            let rng = RandomStream(seed: seed, stream: UInt64(i), domain: .forward)
            let origin = rng.uniformInt(points.rows)
            var noise = [Double](repeating: 0, count: d)
            rng.fillGaussian(&noise, 0..<d)
            return (origin, noise)
        }
        let withClasses = score.classCount > 0 && originClasses != nil
        return try times.map { t in
            let decay = exp(-t), sd = ForwardProcess.delta(t).squareRoot()
            var x = Matrix<Double>(rows: samples, columns: d)
            for (i, draw) in draws.enumerated() {
                for j in 0..<d { x[i, j] = points[draw.origin, j] * decay + sd * draw.noise[j] }
            }
            let ws = score.makeWorkspace(capacity: samples)
            try score.evaluate(x, rows: samples, t: t, workspace: ws, outputs: withClasses ? .classProbabilities : [])
            var y2: [Double] = [], wmax: [Double] = [], wOrigin: [Double] = [], fe: [Double] = [], isMax: [Double] = []
            var agree: [Double] = [], keep: [Double] = []
            for (i, draw) in draws.enumerated() {
                y2.append(ws.participationRatio[i])
                wmax.append(ws.maxWeight[i])
                if planted {
                    let w = ws.weights[i, draw.origin]
                    wOrigin.append(w)
                    fe.append(-log(w) / Double(d))
                    isMax.append(ws.argmax[i] == draw.origin ? 1 : 0)
                }
                if withClasses, let c0 = originClasses?[draw.origin] {
                    agree.append((0..<ws.classes).reduce(0.0) { $0 + ws.classProbabilities[i, $1] * ws.classProbabilities[i, $1] })
                    keep.append(ws.classProbabilities[i, c0])
                }
            }
            return ForwardEstimate(t: t, samples: samples, y2: MeanEstimate(y2),
                                   wOrigin: planted ? MeanEstimate(wOrigin) : nil,
                                   argmaxIsOrigin: planted ? MeanEstimate(isMax) : nil,
                                   excessEntropy: planted ? MeanEstimate(fe) : nil, maxWeight: MeanEstimate(wmax),
                                   classAgreement: withClasses ? MeanEstimate(agree) : nil,
                                   originClassProbability: withClasses ? MeanEstimate(keep) : nil)
        }
    }
}
