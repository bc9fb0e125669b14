import Foundation

/// Which exact score a command uses (Docs/LocalScores.md §1): the global empirical score, or one of
/// the four local machines of Kamb & Ganguli.
public enum ScoreKind: String, Sendable, CaseIterable, Codable {
    /// The global exact empirical score (Docs/Theory.md §1.1).
    case exact
    /// LS: zero-padded window, the same window of every training image (n patches per pixel).
    case ls
    /// ELS as in the reference code: circular query, all valid patches of all images (n N_pos).
    case els
    /// ELS with circular padding on both sides: all H·W wrapped patches of all images (n H W).
    case elsCirc = "els-circ"
    /// Boundary-broken ELS: zero padding, patches at positions with the same boundary signature.
    case bbels

    /// The local machine, or nil for `.exact`.
    public var machine: LocalMachine? {
        switch self {
        case .exact: return nil
        case .ls: return .ls
        case .els: return .els
        case .elsCirc: return .elsCirc
        case .bbels: return .bbels
        }
    }
}

/// A local score machine: the rule "which patches, for which pixel" (Docs/LocalScores.md §1).
public enum LocalMachine: String, Sendable, CaseIterable, Codable {
    case ls
    case els
    case elsCirc = "els-circ"
    case bbels

    /// True if the query window X_i (and the dictionary patches) wrap around periodically.
    public var circular: Bool { self == .els || self == .elsCirc }
}

/// One class of pixels sharing a dictionary: the pixels, and the positions j whose patches (of every
/// training image) form their dictionary 𝒟 = {a_μ,Ω_j : μ, j ∈ positions}.
public struct PatchGroup: Sendable, Equatable {
    public var pixels: [Int]
    public var positions: [Int]
}

extension LocalMachine {
    /// The pixel groups of a non-LS machine for an H × W image and odd patch size P
    /// (Docs/LocalScores.md §1): ELS one group (all pixels; valid positions), ELS_circ one group (all
    /// pixels; all positions), bbELS one group per boundary signature
    /// sig(i) = (min(row, r), min(H−1−row, r), min(col, r), min(W−1−col, r)) with positions = pixels.
    /// LS has one group per pixel ({i}, {i}); it is evaluated by box sums instead.
    public func groups(height H: Int, width W: Int, patch P: Int) -> [PatchGroup] {
        let r = (P - 1) / 2
        let all = Array(0..<(H * W))
        switch self {
        case .ls:
            return all.map { PatchGroup(pixels: [$0], positions: [$0]) }
        case .els:
            var valid: [Int] = []
            if P <= H && P <= W {
                for row in r...(H - 1 - r) { for col in r...(W - 1 - r) { valid.append(row * W + col) } }
            }
            return [PatchGroup(pixels: all, positions: valid)]
        case .elsCirc:
            return [PatchGroup(pixels: all, positions: all)]
        case .bbels:
            var order: [[Int]: Int] = [:]
            var groups: [PatchGroup] = []
            for p in all {
                let row = p / W, col = p % W
                let sig = [min(row, r), min(H - 1 - row, r), min(col, r), min(W - 1 - col, r)]
                if let g = order[sig] {
                    groups[g].pixels.append(p)
                    groups[g].positions.append(p)
                } else {
                    order[sig] = groups.count
                    groups.append(PatchGroup(pixels: [p], positions: [p]))
                }
            }
            return groups
        }
    }

    /// Dictionary size |𝒟_i| per pixel for n training images.
    public func dictionarySizes(height H: Int, width W: Int, patch P: Int, images n: Int) -> [Int] {
        var sizes = [Int](repeating: n, count: H * W)
        if self == .ls { return sizes }
        for g in groups(height: H, width: W, patch: P) { for p in g.pixels { sizes[p] = n * g.positions.count } }
        return sizes
    }
}
