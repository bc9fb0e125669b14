import CGSL
import CVectorKernels

/// A batch of vectorised Gaussian streams, one per row (trajectory), and the fused affine noise
/// step of batched samplers (kernels in CVectorKernels: `vk_gauss_*`).
///
/// Each stream is eight xoshiro256++ lanes (32 words); output j of a row's draw comes from lane
/// j mod 8, through Doornik's 256-layer ziggurat. A stream is seeded from a 64-bit key — callers
/// take the key from the trajectory's own `RandomStream` (`bits64()`), so the numbers depend only on
/// (seed, purpose, index), never on how rows are grouped into chunks or threads. The draws are
/// identical at every instruction-set level (integer arithmetic and one exact product on the fast
/// path; the rare slow path is shared scalar code).
public struct LaneGaussianStreams: Sendable {
    /// Words of state per stream.
    public static let wordsPerStream = Int(VK_GAUSS_STATE_WORDS)
    public let rows: Int
    private var words: [UInt64]

    public init(rows: Int) {
        precondition(rows >= 0, "LaneGaussianStreams: rows must be ≥ 0")
        self.rows = rows
        words = Array(repeating: 0, count: rows * Self.wordsPerStream)
    }

    /// Seeds row `row`'s stream from `key` (SplitMix64 expansion into the eight lanes).
    public mutating func seed(row: Int, key: UInt64) {
        precondition(row >= 0 && row < rows, "LaneGaussianStreams: row out of range")
        words.withUnsafeMutableBufferPointer { w in
            vk_gauss_seed(w.baseAddress! + row * Self.wordsPerStream, key)
        }
    }

    /// `count` standard normals from row `row`'s stream.
    public mutating func gaussians(row: Int, count: Int, baseline: Bool = false) -> [Double] {
        precondition(row >= 0 && row < rows && count >= 0, "LaneGaussianStreams: bad row or count")
        var out = [Double](repeating: 0, count: count)
        words.withUnsafeMutableBufferPointer { w in
            out.withUnsafeMutableBufferPointer { o in
                guard let ob = o.baseAddress else { return }
                let s = w.baseAddress! + row * Self.wordsPerStream
                if baseline { vk_gauss_fill_baseline(s, ob, count) } else { vk_gauss_fill(s, ob, count) }
            }
        }
        return out
    }

    /// The fused affine noise step of a batched SDE, for the first `count` rows of `x` (row r
    /// drawing from stream r): x_r ← a x_r + b[r] m + c ξ_r, ξ_r ~ N(0, I), and
    /// projections[r] = u · x_r after the update.
    public mutating func affineStep(_ x: inout Matrix<Double>, count: Int, a: Double, direction m: [Double],
                                    shifts b: [Double], noise c: Double, projectionOn u: [Double],
                                    projections: inout [Double]) {
        let d = x.columns
        precondition(count >= 0 && count <= rows && count <= x.rows && m.count == d && u.count == d
                     && b.count >= count && projections.count >= count, "LaneGaussianStreams.affineStep: shape mismatch")
        guard count > 0, d > 0 else { return }
        words.withUnsafeMutableBufferPointer { w in
            x.storage.withUnsafeMutableBufferPointer { xs in
                m.withUnsafeBufferPointer { mb in
                    u.withUnsafeBufferPointer { ub in
                        b.withUnsafeBufferPointer { bb in
                            projections.withUnsafeMutableBufferPointer { pb in
                                vk_gauss_affine_rows(w.baseAddress!, xs.baseAddress!, count, d, mb.baseAddress!, ub.baseAddress!,
                                                     a, bb.baseAddress!, c, pb.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension RandomStream {
    /// 64 random bits (two 32-bit mt19937 outputs), e.g. the key of a derived generator.
    public func bits64() -> UInt64 {
        let hi = UInt64(gsl_rng_get(rng)) & 0xFFFF_FFFF, lo = UInt64(gsl_rng_get(rng)) & 0xFFFF_FFFF
        return hi << 32 | lo
    }
}
