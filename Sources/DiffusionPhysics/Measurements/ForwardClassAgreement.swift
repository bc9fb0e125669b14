import Foundation
import GSLKit

/// Rao–Blackwellised speciation estimators on forward samples for any `ScoreModel` (Docs/Theory.md §2.2
/// (ii)): x = a e^{−t} + √Δ_t ξ with a from `origins` (so x ~ P_t), p_c = posterior class
/// probabilities of the model at (x, t);
///     φ(t) = E[Σ_c p_c²]        and        E[p_{c0}] (the U-turn's Rao–Blackwellised form).
/// A `ForwardEnsemble` with `UTurnOrigins` (streams as `UTurnOrigins`, common random numbers
/// across times); it serves population laws as well as the empirical score.
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
        guard origins.uniform || origins.points.rows >= samples else {
            throw ModelError("\(samples) forward samples but only \(origins.points.rows) population origins")
        }
        guard model.componentClasses != nil, model.classCount >= 2 else {
            throw ModelError("the Rao–Blackwellised φ needs class labels with at least two classes")
        }
        let ensemble = try ForwardEnsemble(model: .diffusion(model), origins: .listed(origins, componentClasses: model.componentClasses),
                                           statistics: .classes, threads: threads, chunkSize: chunkSize)
        let values = try ensemble.sampleValues(levels: times, samples: samples, seed: seed)
        progress?.advance(times.count)
        return values.map { v in
            (v.t, MeanEstimate(v.classAgreement ?? []), MeanEstimate(v.originClassProbability ?? []))
        }
    }
}
