import Foundation
import GSLKit

/// Rao–Blackwellised speciation estimators on forward samples for any `ScoreModel` (THEORY §2.2
/// (ii)): x = a e^{−t} + √Δ_t ξ with a from `origins` (so x ~ P_t), p_c = posterior class
/// probabilities of the model at (x, t);
///     φ(t) = E[Σ_c p_c²]        and        E[p_{c0}] (the U-turn's Rao–Blackwellised form).
/// For the empirical score `ForwardSampling` computes the same; this form serves population laws
/// (x drawn from P_t directly). Streams as `UTurnOrigins` (common random numbers across times).
public struct ForwardClassAgreement<Model: ScoreModel>: Sendable {
    public var model: Model
    public var threads: Int
    public var chunkSize: Int

    public init(model: Model, threads: Int = Parallel.defaultThreads, chunkSize: Int = Parallel.defaultChunkSize) {
        self.model = model
        self.threads = threads
        self.chunkSize = chunkSize
    }

    /// (E Σ_c p_c², E p_{c0}) with SEs at each time.
    public func estimate(times: [Double], origins: UTurnOrigins, samples: Int, seed: UInt64,
                         progress: ProgressReporter? = nil) throws -> [(t: Double, agreement: MeanEstimate, originClass: MeanEstimate)] {
        guard samples >= 2 else { throw ModelError("need at least 2 forward samples, got \(samples)") }
        guard origins.uniform || origins.points.rows >= samples else {
            throw ModelError("\(samples) forward samples but only \(origins.points.rows) population origins")
        }
        guard let classes = model.componentClasses, model.classCount >= 2 else {
            throw ModelError("the Rao–Blackwellised φ needs class labels with at least two classes")
        }
        for t in times { try validateTime(t) }
        let d = model.dimension, kc = model.classCount
        let draws = (0..<samples).map { origins.draw($0, seed: seed, dimension: d) }
        var out: [(t: Double, agreement: MeanEstimate, originClass: MeanEstimate)] = []
        for t in times {
            let chunks = try Parallel.mapChunks(count: samples, chunkSize: chunkSize, threads: threads,
                                                makeWorkspace: { model.makeWorkspace(capacity: chunkSize) }) { ws, range in
                let x = origins.noised(draws[range], t: t)
                try model.evaluate(x, rows: range.count, t: t, workspace: ws, outputs: .classProbabilities)
                return range.enumerated().map { r, i -> (Double, Double) in
                    var s = 0.0
                    for c in 0..<kc { let p = ws.classProbabilities[r, c]; s += p * p }
                    return (s, ws.classProbabilities[r, classes[origins.components[draws[i].origin]]])
                }
            }
            let rows = chunks.flatMap { $0 }
            out.append((t, MeanEstimate(rows.map(\.0)), MeanEstimate(rows.map(\.1))))
            progress?.advance()
        }
        return out
    }
}
