import CGSL

/// What a random stream is used for. Streams of different purposes never coincide, even with the
/// same seed and index: a dataset generated with seed s and forward noise drawn with seed s
/// must be independent (sharing (s, i) would make sample i's noise equal point i's noise).
public struct StreamDomain: RawRepresentable, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// Unspecified purpose.
    public static let general = StreamDomain(rawValue: 0)
    /// Generating synthetic datasets (one stream per data point).
    public static let data = StreamDomain(rawValue: 0xDA7A)
    /// Random directions and other model parameters.
    public static let model = StreamDomain(rawValue: 0x30DE1)
    /// Subsampling and selection of data.
    public static let subsample = StreamDomain(rawValue: 0x5AB5)
    /// Generative trajectories (prior draws and SDE noise), one stream per trajectory.
    public static let trajectory = StreamDomain(rawValue: 0x7EA7)
    /// Forward (noising) samples for estimators, one stream per sample.
    public static let forward = StreamDomain(rawValue: 0xF0AD)
    /// Bootstrap resampling.
    public static let bootstrap = StreamDomain(rawValue: 0xB007)
}

/// An owned `gsl_rng` (Mersenne Twister mt19937).
///
/// Reproducibility across thread counts: every trajectory owns its stream, derived from
/// (seed, domain, stream index) with `RandomStream(seed:stream:domain:)`. The triple is hashed
/// with SplitMix64 and the full 624-word MT state is filled from that sequence, so distinct
/// streams do not collide the way 32-bit `gsl_rng_set` seeds would (birthday collisions at
/// ~10⁵ streams).
public final class RandomStream {
    @usableFromInline let rng: UnsafeMutablePointer<gsl_rng>

    /// Stream number `stream` of purpose `domain` in the run seeded with `seed`.
    public init(seed: UInt64, stream: UInt64 = 0, domain: StreamDomain = .general) {
        GSL.prepare()
        guard let r = gsl_rng_alloc(cgsl_rng_mt19937()) else {
            // Allocation of ~5 kB failing means the process is out of memory.
            preconditionFailure("gsl_rng_alloc: out of memory")
        }
        rng = r
        var hash = SplitMix64(state: seed)
        var h = hash.next() ^ domain.rawValue
        hash = SplitMix64(state: h)
        h = hash.next() ^ stream
        var mixer = SplitMix64(state: h)
        _ = mixer.next()
        RandomStream.fillMT19937State(rng, &mixer)
    }

    deinit { gsl_rng_free(rng) }

    /// Fills mt19937's state words (GSL's `mt_state_t { unsigned long mt[624]; int mti; }`) and
    /// forces regeneration on the next draw. Falls back to `gsl_rng_set` if the layout differs.
    private static func fillMT19937State(_ rng: UnsafeMutablePointer<gsl_rng>, _ mixer: inout SplitMix64) {
        let size = gsl_rng_size(rng)
        let words = 624
        guard size >= words * MemoryLayout<UInt>.stride + MemoryLayout<Int32>.stride,
              let state = gsl_rng_state(rng) else {
            gsl_rng_set(rng, UInt(truncatingIfNeeded: mixer.next()))
            return
        }
        let mt = state.bindMemory(to: UInt.self, capacity: words + 1)
        var anyNonZero = false
        for i in 0..<words {
            let v = UInt(mixer.next() & 0xFFFF_FFFF)
            anyNonZero = anyNonZero || v != 0
            mt[i] = v
        }
        if !anyNonZero { mt[0] = 0x8000_0000 }
        let mti = (state + words * MemoryLayout<UInt>.stride).bindMemory(to: Int32.self, capacity: 1)
        mti.pointee = Int32(words)
    }

    /// A standard normal draw (ziggurat).
    @inlinable public func gaussian() -> Double { gsl_ran_gaussian_ziggurat(rng, 1.0) }
    /// A normal draw with standard deviation `sigma`.
    @inlinable public func gaussian(sigma: Double) -> Double { gsl_ran_gaussian_ziggurat(rng, sigma) }
    /// Uniform on [0, 1).
    @inlinable public func uniform() -> Double { gsl_rng_uniform(rng) }
    /// Uniform on (0, 1).
    @inlinable public func uniformPositive() -> Double { gsl_rng_uniform_pos(rng) }
    /// Uniform integer in 0..<n (n ≥ 1).
    @inlinable public func uniformInt(_ n: Int) -> Int {
        precondition(n >= 1, "uniformInt needs n >= 1")
        return Int(gsl_rng_uniform_int(rng, UInt(n)))
    }
    /// χ² with `nu` degrees of freedom (any real ν > 0).
    @inlinable public func chiSquared(_ nu: Double) -> Double { gsl_ran_chisq(rng, nu) }
    /// Beta(a, b).
    @inlinable public func beta(_ a: Double, _ b: Double) -> Double { gsl_ran_beta(rng, a, b) }
    /// Gamma(shape a, scale b).
    @inlinable public func gamma(shape a: Double, scale b: Double) -> Double { gsl_ran_gamma(rng, a, b) }

    /// Fills `buffer[range]` with standard normal draws.
    @inlinable public func fillGaussian(_ buffer: inout [Double], _ range: Range<Int>) {
        for i in range { buffer[i] = gsl_ran_gaussian_ziggurat(rng, 1.0) }
    }

    /// Index drawn from unnormalised non-negative weights `w[range]` (sum > 0).
    public func categorical(_ w: ArraySlice<Double>) -> Int {
        var total = 0.0
        for v in w { total += v }
        var u = uniform() * total
        var last = w.startIndex
        for i in w.indices {
            if w[i] > 0 { last = i }
            u -= w[i]
            if u < 0 { return i - w.startIndex }
        }
        return last - w.startIndex
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): the standard way to expand one 64-bit seed into
/// well-mixed words.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
