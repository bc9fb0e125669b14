import Foundation

/// The patch size P of a local machine: fixed, or a function of the forward time (a schedule,
/// Docs/LocalScores.md §1 "Scale calibration").
public enum PatchRule: Sendable, Equatable {
    case fixed(Int)
    case schedule(PatchSchedule)

    /// P at forward time t.
    public func patch(at t: Double) -> Int {
        switch self {
        case .fixed(let p): return p
        case .schedule(let s): return s.patch(at: t)
        }
    }

    /// Every P the rule can return.
    public var allPatches: [Int] {
        switch self {
        case .fixed(let p): return [p]
        case .schedule(let s): return Array(Set(s.patches)).sorted()
        }
    }

    public var description: String {
        switch self {
        case .fixed(let p): return "P = \(p)"
        case .schedule(let s): return "schedule \(s.name)"
        }
    }
}

/// A tabulated patch-size schedule: times t_k > 0 and odd sizes P_k. P(t) is the P_k whose t_k is
/// nearest to t in ln t (a step function with steps at the geometric midpoints), as the reference
/// code uses scales[i] at its step i (Docs/LocalScores.md §1).
public struct PatchSchedule: Sendable, Equatable {
    public let times: [Double]
    public let patches: [Int]
    public let name: String

    public init(times: [Double], patches: [Int], name: String) throws {
        guard !times.isEmpty, times.count == patches.count else {
            throw DataError("\(name): patch schedule needs equally many times and patch sizes (≥ 1)")
        }
        guard times.allSatisfy({ $0.isFinite && $0 > 0 }) else { throw DataError("\(name): schedule times must be finite and > 0") }
        guard patches.allSatisfy({ $0 >= 1 && $0 % 2 == 1 }) else { throw DataError("\(name): patch sizes must be odd and ≥ 1") }
        let order = times.indices.sorted { times[$0] < times[$1] }
        self.times = order.map { times[$0] }
        self.patches = order.map { patches[$0] }
        self.name = name
    }

    public func patch(at t: Double) -> Int {
        let lt = log(max(t, .leastNormalMagnitude))
        var best = 0, bestGap = Double.infinity
        for (k, tk) in times.enumerated() {
            let gap = abs(log(tk) - lt)
            if gap < bestGap { best = k; bestGap = gap }
        }
        return patches[best]
    }

    /// Reads a CSV with a header naming columns `t` and `patch` (other columns ignored), e.g. the
    /// schedules in Data/patch-schedules/.
    public static func load(path: String) throws -> PatchSchedule {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw DataError("\(path): cannot read the patch schedule")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#") }
        guard let header = lines.first else { throw DataError("\(path): empty patch schedule") }
        let names = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let ti = names.firstIndex(of: "t"), let pi = names.firstIndex(of: "patch") else {
            throw DataError("\(path): patch schedule needs header columns 't' and 'patch'")
        }
        var times: [Double] = [], patches: [Int] = []
        for (k, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count > max(ti, pi), let t = Double(f[ti]), let p = Int(f[pi]) else {
                throw DataError("\(path): line \(k + 2): expected numbers in columns t and patch")
            }
            times.append(t)
            patches.append(p)
        }
        return try PatchSchedule(times: times, patches: patches, name: path)
    }
}
