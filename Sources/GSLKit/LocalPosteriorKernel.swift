import CVectorKernels

// Safe wrappers of the local-score loops (Sources/CVectorKernels/LocalScoreKernels.c). The physics
// (which dictionary for which pixel, which padding) lives in DiffusionPhysics' `LocalScore`
// (Docs/LocalScores.md §1, §3). Images are row-major H × W × C arrays.

/// Per-pixel posterior over a dictionary of patches, accumulated by an online log-sum-exp
/// (Docs/LocalScores.md §3): per pixel p the running max m_p and
///
///     s1 = Σ e^{L−m},  s2 = Σ e^{2(L−m)},  sl = Σ e^{L−m}(L−m),  sc = Σ e^{L−m} φ(0),
///
/// rescaled by e^{m_old − m_new} when the max grows. Then m̂_p = sc/s1, Y2_p = s2/s1²,
/// S_p = ln s1 − sl/s1, ln Σ e^{L} = m + ln s1.
public struct PixelPosteriorAccumulator: Sendable {
    public let pixels: Int
    public let channels: Int
    var m: [Double], s1: [Double], s2: [Double], sl: [Double], sc: [Double]
    var scratch: [Double] = []

    /// The largest channel count the kernels take.
    public static let maxChannels = 64

    public init(pixels: Int, channels: Int) {
        precondition(channels >= 1 && channels <= Self.maxChannels, "PixelPosteriorAccumulator: 1…64 channels")
        self.pixels = pixels
        self.channels = channels
        m = Array(repeating: -Double.infinity, count: pixels)
        s1 = Array(repeating: 0, count: pixels)
        s2 = s1
        sl = s1
        sc = Array(repeating: 0, count: pixels * channels)
    }

    /// Merges one dictionary entry per pixel: log weight `logWeights[p]`, centre value
    /// `centres[p·C ..< (p+1)·C]` (LS: the same image at the same pixel).
    public mutating func mergeSingle(logWeights: [Double], centres: ArraySlice<Double>) {
        precondition(logWeights.count == pixels && centres.count == pixels * channels, "mergeSingle: sizes")
        let C = channels
        logWeights.withUnsafeBufferPointer { lw in
            centres.withUnsafeBufferPointer { ce in
                m.withUnsafeMutableBufferPointer { pm in
                    s1.withUnsafeMutableBufferPointer { p1 in
                        s2.withUnsafeMutableBufferPointer { p2 in
                            sl.withUnsafeMutableBufferPointer { pl in
                                sc.withUnsafeMutableBufferPointer { pc in
                                    lsk_merge_single(pixels, C, lw.baseAddress!, ce.baseAddress!, pm.baseAddress!,
                                                     p1.baseAddress!, p2.baseAddress!, pl.baseAddress!, pc.baseAddress!)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Merges a block: row r of `dots` (rows × entries) holds X_r·φ_j for the query patch of pixel
    /// `pixelIndex[r]`; L_rj = −|X_r − decay·φ_j|²/(2σ²) from the norms `queryNorms[r]` = |X_r|²,
    /// `entryNorms[j]` = |φ_j|²; entry j has centre `centres[j·C ..< (j+1)·C]`. Returns, per row,
    /// ln Σ_j e^{L_rj} (this block's mass at that pixel).
    public mutating func mergeRows(dots: Matrix<Double>, rows: Int, queryNorms: [Double], entryNorms: [Double],
                                   centres: [Double], pixelIndex: [Int], decay: Double, sigma2: Double) -> [Double] {
        let cols = dots.columns
        precondition(rows <= dots.rows && queryNorms.count >= rows && pixelIndex.count >= rows
                     && entryNorms.count == cols && centres.count == cols * channels, "mergeRows: sizes")
        precondition(pixelIndex.prefix(rows).allSatisfy { $0 >= 0 && $0 < pixels }, "mergeRows: pixel index")
        let need = lsk_merge_rows_scratch(cols, channels)
        if scratch.count < need { scratch = Array(repeating: 0, count: need) }
        var logMass = [Double](repeating: 0, count: rows)
        if rows == 0 || cols == 0 { return logMass.map { _ in -Double.infinity } }
        let C = channels
        dots.storage.withUnsafeBufferPointer { g in
            queryNorms.withUnsafeBufferPointer { xn in
                entryNorms.withUnsafeBufferPointer { pn in
                    centres.withUnsafeBufferPointer { ce in
                        pixelIndex.withUnsafeBufferPointer { pix in
                            m.withUnsafeMutableBufferPointer { pm in
                                s1.withUnsafeMutableBufferPointer { p1 in
                                    s2.withUnsafeMutableBufferPointer { p2 in
                                        sl.withUnsafeMutableBufferPointer { pl in
                                            sc.withUnsafeMutableBufferPointer { pc in
                                                logMass.withUnsafeMutableBufferPointer { lm in
                                                    scratch.withUnsafeMutableBufferPointer { sp in
                                                        lsk_merge_rows(rows, cols, g.baseAddress!, cols, xn.baseAddress!,
                                                                       pn.baseAddress!, ce.baseAddress!, C, decay,
                                                                       0.5 / sigma2, pix.baseAddress!, pm.baseAddress!,
                                                                       p1.baseAddress!, p2.baseAddress!, pl.baseAddress!,
                                                                       pc.baseAddress!, lm.baseAddress!, sp.baseAddress!)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return logMass
    }

    /// Replaces the state by the LS reduction over the n images (rows of `images`, each H × W × C) at
    /// the noisy image x (Docs/LocalScores.md §3): per image the log weights
    /// L(i) = −Σ_{p ∈ Ω_i ∩ image} |x(p) − decay·a(p)|²/(2σ²) by the difference form and box sums
    /// (column cumulative sums, row prefix sums: cost independent of P = 2·radius + 1), merged at once
    /// into the online log-sum-exp (one exp per pixel and image, no n × HW intermediate). If
    /// `logWeights` has n rows it receives L (n × HW); pass a 0-row matrix to skip it.
    public mutating func reduceLS(height: Int, width: Int, radius: Int, x: [Double], images: Matrix<Double>,
                                  decay: Double, sigma2: Double, logWeights: inout Matrix<Double>) {
        let C = channels, hw = height * width, n = images.rows
        precondition(hw == pixels && x.count == hw * C && images.columns == hw * C && n >= 1 && radius >= 0,
                     "reduceLS: sizes")
        precondition(logWeights.rows == 0 || (logWeights.rows == n && logWeights.columns == hw), "reduceLS: logWeights")
        let need = lsk_ls_scratch(height, width, C, radius)
        if scratch.count < need { scratch = Array(repeating: 0, count: need) }
        let wantL = logWeights.rows > 0
        x.withUnsafeBufferPointer { px in
            images.storage.withUnsafeBufferPointer { im in
                m.withUnsafeMutableBufferPointer { pm in
                    s1.withUnsafeMutableBufferPointer { p1 in
                        s2.withUnsafeMutableBufferPointer { p2 in
                            sl.withUnsafeMutableBufferPointer { pl in
                                sc.withUnsafeMutableBufferPointer { pc in
                                    scratch.withUnsafeMutableBufferPointer { sp in
                                        logWeights.storage.withUnsafeMutableBufferPointer { lw in
                                            lsk_ls_posterior(height, width, C, radius, px.baseAddress!, im.baseAddress!, n,
                                                             decay, 0.5 / sigma2, pm.baseAddress!, p1.baseAddress!,
                                                             p2.baseAddress!, pl.baseAddress!, pc.baseAddress!,
                                                             wantL ? lw.baseAddress! : nil, sp.baseAddress!)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Per-pixel posterior mean (pixels × C), Y2, entropy and ln Σ e^{L}.
    public func finish() -> (mean: [Double], participationRatio: [Double], entropy: [Double], logSumExp: [Double]) {
        var mean = [Double](repeating: 0, count: pixels * channels)
        var y2 = [Double](repeating: 0, count: pixels), entropy = y2, lse = y2
        if pixels == 0 { return (mean, y2, entropy, lse) }
        mean.withUnsafeMutableBufferPointer { pm in
            y2.withUnsafeMutableBufferPointer { py in
                entropy.withUnsafeMutableBufferPointer { pe in
                    lse.withUnsafeMutableBufferPointer { pl in
                        lsk_finish(pixels, channels, m, s1, s2, sl, sc, pm.baseAddress!, py.baseAddress!,
                                   pe.baseAddress!, pl.baseAddress!)
                    }
                }
            }
        }
        return (mean, y2, entropy, lse)
    }
}

/// Image loops of the local scores (Docs/LocalScores.md §3).
public enum PatchKernels {
    /// out[i] = eˣ⁽ⁱ⁾ through the engine's vector exp (`VectorMath.exp` without allocating): for
    /// benchmark floors that must stay in cache.
    public static func exp(_ x: [Double], into out: inout [Double]) {
        precondition(out.count >= x.count, "exp(into:): sizes")
        x.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { o in
                if let xb = xs.baseAddress, let ob = o.baseAddress { vk_exp(xb, ob, x.count) }
            }
        }
    }

    /// LS log weights of one image a against the noisy image x (both H × W × C), by the difference
    /// form D(p) = |x(p) − decay·a(p)|² and 2-D cumulative sums (cost independent of P):
    /// L(i) = −Σ_{p ∈ Ω_i ∩ image} D(p)/(2σ²), Ω_i the P × P window centred on i, P = 2r + 1.
    public static func boxLogWeights(height: Int, width: Int, channels: Int, radius: Int, x: [Double],
                                     image: ArraySlice<Double>, decay: Double, sigma2: Double,
                                     into out: inout [Double], cumulative: inout [Double]) {
        let d = height * width * channels
        precondition(x.count == d && image.count == d && out.count >= height * width, "boxLogWeights: sizes")
        if cumulative.count < (height + 1) * (width + 1) { cumulative = Array(repeating: 0, count: (height + 1) * (width + 1)) }
        x.withUnsafeBufferPointer { px in
            image.withUnsafeBufferPointer { pa in
                out.withUnsafeMutableBufferPointer { po in
                    cumulative.withUnsafeMutableBufferPointer { pc in
                        lsk_box_log_weights(height, width, channels, radius, px.baseAddress!, pa.baseAddress!, decay,
                                            0.5 / sigma2, po.baseAddress!, pc.baseAddress!)
                    }
                }
            }
        }
    }

    /// LS log weights of every row of `images` (n × H·W·C) against the noisy image x, into `out` (n × H·W), by
    /// the difference form D(p) = |x(p) − decay·a(p)|² and 2-D cumulative sums (cost independent of P):
    /// L(i) = −Σ_{p ∈ Ω_i ∩ image} D(p)/(2σ²), Ω_i the P × P window centred on i, P = 2r + 1
    /// (Docs/LocalScores.md §3). The per-pixel collapse engine builds its t-independent terms from it.
    public static func boxLogWeights(height: Int, width: Int, channels: Int, radius: Int, x: [Double],
                                     images: Matrix<Double>, decay: Double, sigma2: Double, into out: inout Matrix<Double>) {
        let d = height * width * channels, hw = height * width
        precondition(x.count == d && images.columns == d && out.columns == hw && out.rows >= images.rows, "boxLogWeights: sizes")
        var cum = [Double](repeating: 0, count: (height + 1) * (width + 1))
        let n = images.rows
        x.withUnsafeBufferPointer { px in
            images.storage.withUnsafeBufferPointer { pa in
                out.storage.withUnsafeMutableBufferPointer { po in
                    cum.withUnsafeMutableBufferPointer { pc in
                        for mu in 0..<n {
                            lsk_box_log_weights(height, width, channels, radius, px.baseAddress!, pa.baseAddress! + mu * d, decay,
                                                0.5 / sigma2, po.baseAddress! + mu * hw, pc.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// The P × P × C patches of `image` centred at `positions` (rows of the result, entries in
    /// (row offset, column offset, channel) order); outside the image zero, or the periodic
    /// continuation if `circular`.
    public static func im2col(height: Int, width: Int, channels: Int, patch: Int, image: ArraySlice<Double>,
                              positions: [Int], circular: Bool) -> Matrix<Double> {
        let dP = patch * patch * channels
        precondition(image.count == height * width * channels && patch % 2 == 1, "im2col: sizes")
        precondition(positions.allSatisfy { $0 >= 0 && $0 < height * width }, "im2col: position")
        var out = Matrix<Double>(rows: positions.count, columns: dP)
        if positions.isEmpty { return out }
        image.withUnsafeBufferPointer { pi in
            positions.withUnsafeBufferPointer { pp in
                out.storage.withUnsafeMutableBufferPointer { po in
                    lsk_im2col(height, width, channels, patch, pi.baseAddress!, pp.baseAddress!, positions.count,
                               circular ? 1 : 0, po.baseAddress!)
                }
            }
        }
        return out
    }
}
