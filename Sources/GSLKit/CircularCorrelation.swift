import CGSL

/// Circular cross-correlation of H × W × C images over all H·W spatial shifts by 2-D FFT
/// (`gsl_fft_complex`, mixed radix: any H, W):
///
///     r(s) = Σ_p Σ_c x(p + s, c) a(p, c)   (indices mod H, W),   R(k) = Σ_c X_c(k) conj(A_c(k)),
///
/// so r(s) = x · T_s a with (T_s a)(p) = a(p − s), the training image a circularly shifted by s
/// (Docs/LocalScores.md §7, shift-aware gap ratio). Images are row-major (row, col, channel); shift
/// s = (sRow, sCol) is returned at index sRow·W + sCol. Not thread-safe (one GSL workspace per instance).
public final class CircularCorrelator: @unchecked Sendable {
    public let height: Int, width: Int, channels: Int
    private let rowTable, colTable: UnsafeMutablePointer<gsl_fft_complex_wavetable>
    private let rowWork, colWork: UnsafeMutablePointer<gsl_fft_complex_workspace>
    private var buffer: [Double]

    public init(height: Int, width: Int, channels: Int = 1) throws {
        GSL.prepare()
        guard height >= 1, width >= 1, channels >= 1 else {
            throw GSL.failure("gsl_fft_complex", "image shape must be ≥ 1, got \(height)×\(width)×\(channels)")
        }
        (self.height, self.width, self.channels) = (height, width, channels)
        guard let rt = gsl_fft_complex_wavetable_alloc(width), let ct = gsl_fft_complex_wavetable_alloc(height),
              let rw = gsl_fft_complex_workspace_alloc(width), let cw = gsl_fft_complex_workspace_alloc(height) else {
            throw GSL.failure("gsl_fft_complex_wavetable_alloc", "out of memory")
        }
        (rowTable, colTable, rowWork, colWork) = (rt, ct, rw, cw)
        buffer = [Double](repeating: 0, count: 2 * height * width)
    }

    deinit {
        gsl_fft_complex_wavetable_free(rowTable)
        gsl_fft_complex_wavetable_free(colTable)
        gsl_fft_complex_workspace_free(rowWork)
        gsl_fft_complex_workspace_free(colWork)
    }

    /// The 2-D DFT X_c(k) = Σ_p x(p, c) e^{−2πi k·p} of each channel of one image (H·W·C values):
    /// C blocks of H·W complex numbers, interleaved (re, im).
    public func spectrum(_ image: ArraySlice<Double>) -> [Double] {
        precondition(image.count == height * width * channels, "image has \(image.count) values, shape needs \(height * width * channels)")
        let hw = height * width, base = image.startIndex
        var out = [Double](repeating: 0, count: 2 * hw * channels)
        for c in 0..<channels {
            for p in 0..<hw { buffer[2 * p] = image[base + p * channels + c]; buffer[2 * p + 1] = 0 }
            transform(forward: true)
            for j in 0..<(2 * hw) { out[2 * hw * c + j] = buffer[j] }
        }
        return out
    }

    /// r(s) for every shift s (H·W values) from the spectra of x and a (`spectrum`).
    public func correlation(_ x: [Double], _ a: [Double]) -> [Double] {
        let hw = height * width
        precondition(x.count == 2 * hw * channels && a.count == x.count, "spectra of the wrong size")
        for j in 0..<(2 * hw) { buffer[j] = 0 }
        for c in 0..<channels {
            let o = 2 * hw * c
            for k in 0..<hw {
                let xr = x[o + 2 * k], xi = x[o + 2 * k + 1], ar = a[o + 2 * k], ai = a[o + 2 * k + 1]
                buffer[2 * k] += xr * ar + xi * ai
                buffer[2 * k + 1] += xi * ar - xr * ai
            }
        }
        transform(forward: false)
        return (0..<hw).map { buffer[2 * $0] }
    }

    /// In-place 2-D transform of `buffer` (rows, then columns); the inverse includes 1/(H·W).
    private func transform(forward: Bool) {
        let H = height, W = width
        buffer.withUnsafeMutableBufferPointer { b in
            let base = b.baseAddress!
            for r in 0..<H {
                let p = base + 2 * r * W
                _ = forward ? gsl_fft_complex_forward(p, 1, W, rowTable, rowWork)
                            : gsl_fft_complex_inverse(p, 1, W, rowTable, rowWork)
            }
            for c in 0..<W {
                let p = base + 2 * c
                _ = forward ? gsl_fft_complex_forward(p, W, H, colTable, colWork)
                            : gsl_fft_complex_inverse(p, W, H, colTable, colWork)
            }
        }
    }
}
