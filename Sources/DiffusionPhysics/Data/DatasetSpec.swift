import Foundation
import GSLKit

/// The command-line dataset specification shared by all commands.
///
/// - `gaussian:d=64,n=1000,sigma=1` — N(0, σ²I); n omitted or `inf` → population only.
/// - `gmm2:d=64,n=1000,mtilde=1,sigma=1[,direction=ones|random][,direction-seed=S]` — Docs/Theory.md §2.2.
/// - `fashion-mnist:classes=1,9,per-class=1000[,split=train|test][,center=scalar|feature|none]` — §4.2.
/// - `digits:classes=0,1[,per-class=K][,center=…]` — the shipped 8×8 digits, x/16.
/// - `curie-weiss:N=100,beta=1.5,n=2000[,seed=S]` — n exact samples of N Curie–Weiss spins, classes
///   sign M (`CurieWeissModel`, Docs/Theory.md §2.4); `seed` fixes the sample apart from the run's seed.
/// - a path to `.csv[.gz]`, `.npy`, or an IDX `*-idx3-ubyte[.gz]` file (or `file:PATH`), optionally
///   followed by `;labels=FILE` (NPY, CSV or IDX labels, integer or text) and/or
///   `;label-column=NAME|INDEX` (the CSV column holding the labels; 0-based index). The CLI's
///   `--labels` / `--label-column` add these ([YourData.md](../../Docs/YourData.md)).
///
/// A bare token without `=` continues the previous key's list: `classes=1,9,per-class=1000`.
public enum DatasetSpec: Sendable, Equatable, CustomStringConvertible {
    case gaussian(d: Int, n: Int?, sigma: Double)
    case gmm2(d: Int, n: Int?, mTilde: Double, sigma: Double, direction: MeanDirection)
    case fashionMNIST(classes: [Int], perClass: Int, split: FashionMNIST.Split, centering: Centering)
    case digits(classes: [Int], perClass: Int?, centering: Centering)
    case file(path: String, labels: String? = nil, labelColumn: String? = nil)
    case curieWeiss(spins: Int, beta: Double, n: Int, seed: UInt64?)
}

extension DatasetSpec {
    static let kinds = ["gaussian", "gmm2", "fashion-mnist", "digits", "file", "curie-weiss"]

    /// Parses a spec. Throws `DataError` on an unknown kind or key, a repeated key, a missing `d`,
    /// n ≤ 0, d ≤ 0, sigma < 0, mtilde < 0, or a non-numeric value.
    public static func parse(_ text: String) throws -> DatasetSpec {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw DataError("empty dataset spec") }
        let kind: String, rest: String
        if let colon = trimmed.firstIndex(of: ":") {
            kind = String(trimmed[..<colon]).lowercased()
            rest = String(trimmed[trimmed.index(after: colon)...])
        } else {
            kind = trimmed.lowercased()
            rest = ""
        }
        if kind == "file" {
            guard !rest.isEmpty else { throw DataError("dataset spec 'file:' needs a path") }
            return try fileSpec(rest, text: text)
        }
        guard kinds.contains(kind) else {
            if let semicolon = trimmed.range(of: ";label"), looksLikeDataFile(String(trimmed[..<semicolon.lowerBound])) {
                return try fileSpec(trimmed, text: text)
            }
            if looksLikeDataFile(trimmed) { return .file(path: trimmed) }
            throw DataError("unknown dataset kind '\(kind)' in '\(text)' (expected gaussian, gmm2, fashion-mnist, digits, curie-weiss, or a .csv/.npy/IDX path)")
        }
        // Curie–Weiss: N (spins) and n (samples) differ only in case, and keys are case-free.
        var opts = try Options(kind == "curie-weiss" ? CurieWeissModel.renamingSpinCount(rest) : rest, spec: text)
        let spec: DatasetSpec
        switch kind {
        case "gaussian":
            spec = .gaussian(d: try opts.dimension(), n: try opts.count(), sigma: try opts.nonNegative("sigma", default: 1))
        case "gmm2":
            let d = try opts.dimension(), n = try opts.count()
            let mTilde = try opts.nonNegative("mtilde", default: 1)
            let sigma = try opts.nonNegative("sigma", default: 1)
            let direction: MeanDirection
            switch try opts.word("direction", default: "ones") {
            case "ones": direction = .ones
            case "random": direction = .random(seed: UInt64(try opts.integer("direction-seed", default: 0, minimum: 0)))
            case let other: throw DataError("'\(text)': direction must be ones or random (got '\(other)')")
            }
            spec = .gmm2(d: d, n: n, mTilde: mTilde, sigma: sigma, direction: direction)
        case "fashion-mnist":
            let classes = try opts.classes(default: [1, 9])
            let perClass = try opts.integer("per-class", default: 1000, minimum: 1)
            guard let split = FashionMNIST.Split(rawValue: try opts.word("split", default: "train")) else {
                throw DataError("'\(text)': split must be train or test")
            }
            spec = .fashionMNIST(classes: classes, perClass: perClass, split: split, centering: try opts.centering())
        case "curie-weiss":
            guard opts.values["spins"] != nil else { throw DataError("'\(text)': N=… (number of spins) is required") }
            guard opts.values["n"] != nil else { throw DataError("'\(text)': n=… (number of samples) is required") }
            let spins = try opts.optionalInteger("spins", minimum: 1)!
            let n = try opts.optionalInteger("n", minimum: 1)!
            guard let b = try opts.take("beta") else { throw DataError("'\(text)': beta=… is required") }
            guard let beta = Double(b), beta.isFinite, beta >= 0 else { throw DataError("'\(text)': beta must be a finite number ≥ 0 (got \(b))") }
            let seed = try opts.optionalInteger("seed", minimum: 0).map(UInt64.init)
            spec = .curieWeiss(spins: spins, beta: beta, n: n, seed: seed)
        default: // digits
            let classes = try opts.classes(default: [0, 1])
            let perClass = try opts.optionalInteger("per-class", minimum: 1)
            spec = .digits(classes: classes, perClass: perClass, centering: try opts.centering())
        }
        try opts.finish(kind: kind)
        return spec
    }

    /// `PATH[;labels=FILE][;label-column=COL]`.
    static func fileSpec(_ text: String, text original: String) throws -> DatasetSpec {
        var path = text, labels: String? = nil, column: String? = nil
        while let r = path.range(of: ";label", options: .backwards) {
            let option = String(path[path.index(after: r.lowerBound)...])
            guard let eq = option.firstIndex(of: "=") else { break }
            let key = String(option[..<eq]), value = String(option[option.index(after: eq)...])
            guard key == "labels" || key == "label-column" else { break }
            guard !value.isEmpty else { throw DataError("'\(original)': \(key) has no value") }
            if key == "labels" {
                guard labels == nil else { throw DataError("'\(original)': labels given twice") }
                labels = value
            } else {
                guard column == nil else { throw DataError("'\(original)': label-column given twice") }
                column = value
            }
            path = String(path[..<r.lowerBound])
        }
        guard !path.isEmpty else { throw DataError("'\(original)': no data file path") }
        return .file(path: path, labels: labels, labelColumn: column)
    }

    /// The same spec with labels from `labels` and/or the CSV column `labelColumn` (the CLI's
    /// `--labels`, `--label-column`). Only a data file can take them: generated and standard data
    /// sets carry their own labels.
    public func withLabels(_ labels: String?, column labelColumn: String?) throws -> DatasetSpec {
        guard labels != nil || labelColumn != nil else { return self }
        guard case .file(let path, let l0, let c0) = self else {
            throw DataError("--labels and --label-column apply to a data file (.csv, .npy, IDX); \(description) has its own labels")
        }
        return .file(path: path, labels: labels ?? l0, labelColumn: labelColumn ?? c0)
    }

    /// The one-line guidance printed when a measurement needs labels that the data lack.
    public static func missingLabelsHelp(_ name: String, needs what: String) -> String {
        "\(name): \(what) needs class labels (at least two classes); give them by --labels FILE (.npy, .csv or IDX, one label per row, integers or text), by --label-column NAME|INDEX (a column of the CSV, with or without header, 0-based), or by a CSV header column named 'label' (see Docs/YourData.md)"
    }

    static func looksLikeDataFile(_ path: String) -> Bool {
        let base = path.lowercased().hasSuffix(".gz") ? String(path.lowercased().dropLast(3)) : path.lowercased()
        return base.hasSuffix(".csv") || base.hasSuffix(".npy") || base.hasSuffix("-ubyte") || base.hasSuffix(".idx")
    }

    /// The law the spec samples from (gaussian, gmm2), also when n is given; nil for real data.
    public var population: GaussianMixtureModel? {
        switch self {
        case .gaussian(let d, _, let sigma): return try? GaussianMixtureModel.isotropicGaussian(d: d, sigma: sigma)
        case .gmm2(let d, _, let mTilde, let sigma, let direction):
            return try? GaussianMixtureModel.twoClass(d: d, mTilde: mTilde, sigma: sigma, direction: direction)
        default: return nil
        }
    }

    /// True for gaussian/gmm2 without a finite n: only the population law exists.
    public var isPopulationOnly: Bool {
        switch self {
        case .gaussian(_, let n, _), .gmm2(_, let n, _, _, _): return n == nil
        default: return false
        }
    }

    /// The finite data set: n samples (point i from stream (seed, i)) for gaussian/gmm2; the
    /// preprocessed images for fashion-mnist/digits; the file's contents for a path (`seed` unused).
    /// Throws `DataError` for a population-only spec.
    public func load(seed: UInt64) throws -> Dataset {
        var data: Dataset
        switch self {
        case .gaussian(_, let n, _), .gmm2(_, let n, _, _, _):
            guard let n, let law = population else {
                throw DataError("\(description): population-only spec (no finite n) has no data set to load")
            }
            data = try law.sample(n: n, seed: seed)
        case .fashionMNIST(let classes, let perClass, let split, let centering):
            data = try FashionMNIST.load(split: split, preprocessing: Preprocessing(
                classes: classes, perClass: perClass, scale: 1.0 / 255, centering: centering), seed: seed)
        case .digits(let classes, let perClass, let centering):
            data = try Digits.load(preprocessing: Preprocessing(
                classes: classes, perClass: perClass, scale: 1.0 / 16, centering: centering), seed: seed)
        case .file(let path, let labels, let column):
            data = try Self.loadFile(path, labels: labels, labelColumn: column)
        case .curieWeiss(let spins, let beta, let n, let own):
            data = try CurieWeissModel(spins: spins, beta: beta).sample(n: n, seed: own ?? seed)
        }
        data.name = description
        switch self {
        case .fashionMNIST: data.imageShape = try ImageShape(height: 28, width: 28)
        case .digits: data.imageShape = try ImageShape(height: 8, width: 8)
        default: break
        }
        return data
    }

    /// Loads a `.csv[.gz]`, `.npy[.gz]` (trailing axes flattened), or IDX file, with labels from
    /// `labels` (any format `LabelLoader` reads) or, for a CSV, from the column `labelColumn` (else
    /// a header column named label/labels/class/target); an IDX file without `labels` takes the
    /// `…-labels-idx1-ubyte[.gz]` file beside it, if present.
    static func loadFile(_ path: String, labels labelsPath: String? = nil, labelColumn: String? = nil) throws -> Dataset {
        let lower = path.lowercased()
        let base = lower.hasSuffix(".gz") ? String(lower.dropLast(3)) : lower
        var data: Dataset
        if base.hasSuffix(".csv") {
            let column: CSVLoader.LabelColumn = labelsPath == nil ? labelColumn.map { .column($0) } ?? .auto : .auto
            data = try CSVLoader.load(path: path, label: column)
            if labelsPath != nil, data.labels != nil {
                throw DataError("\(path) has its own label column and --labels \(labelsPath!) was also given: use one")
            }
        } else if base.hasSuffix(".npy") {
            data = try NPYLoader.load(path: path)
        } else if base.hasSuffix("-ubyte") || base.hasSuffix(".idx") {
            var beside: String? = nil
            if labelsPath == nil, let l = IDXLoader.labelsPath(forImages: path), FileManager.default.fileExists(atPath: l) { beside = l }
            data = try IDXLoader.load(images: path, labels: beside)
        } else {
            throw DataError("\(path): unknown file type (expected .csv, .npy, or an IDX …-ubyte file, optionally .gz)")
        }
        if labelColumn != nil, labelsPath == nil, !base.hasSuffix(".csv") {
            throw DataError("\(path): --label-column selects a column of a CSV file; for .npy or IDX data give --labels FILE")
        }
        if let labelsPath {
            let labels = try LabelLoader.load(path: labelsPath, column: labelColumn)
            guard labels.values.count == data.n else {
                throw DataError("\(labelsPath): \(labels.values.count) labels for the \(data.n) points of \(path)")
            }
            let shape = data.imageShape
            data = try Dataset(points: data.points, labels: labels.values, classNames: labels.names, name: data.name)
            data.imageShape = shape
        }
        return data
    }

    /// Canonical text (parses back to the same spec), printed with results.
    public var description: String {
        func num(_ x: Double) -> String {
            x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)"
        }
        func count(_ n: Int?) -> String { n.map(String.init) ?? "inf" }
        switch self {
        case .gaussian(let d, let n, let sigma):
            return "gaussian:d=\(d),n=\(count(n)),sigma=\(num(sigma))"
        case .gmm2(let d, let n, let mTilde, let sigma, let direction):
            let dir: String
            switch direction {
            case .ones: dir = "ones"
            case .random(let seed): dir = "random,direction-seed=\(seed)"
            }
            return "gmm2:d=\(d),n=\(count(n)),mtilde=\(num(mTilde)),sigma=\(num(sigma)),direction=\(dir)"
        case .fashionMNIST(let classes, let perClass, let split, let centering):
            return "fashion-mnist:classes=\(classes.map(String.init).joined(separator: ",")),per-class=\(perClass),split=\(split.rawValue),center=\(centering.rawValue)"
        case .digits(let classes, let perClass, let centering):
            let k = perClass.map { ",per-class=\($0)" } ?? ""
            return "digits:classes=\(classes.map(String.init).joined(separator: ","))\(k),center=\(centering.rawValue)"
        case .file(let path, let labels, let column):
            let options = (labels.map { ";labels=\($0)" } ?? "") + (column.map { ";label-column=\($0)" } ?? "")
            return (Self.looksLikeDataFile(path) && !path.contains(":") ? path : "file:\(path)") + options
        case .curieWeiss(let spins, let beta, let n, let seed):
            return "curie-weiss:N=\(spins),beta=\(num(beta)),n=\(n)" + (seed.map { ",seed=\($0)" } ?? "")
        }
    }
}

/// `key=value[,more]` options of a spec; bare tokens extend the previous key's list.
private struct Options {
    var values: [String: [String]] = [:]
    var used: Set<String> = []
    let spec: String

    init(_ text: String, spec: String) throws {
        self.spec = spec
        var last: String? = nil
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        for raw in text.split(separator: ",", omittingEmptySubsequences: false) {
            let token = raw.trimmingCharacters(in: .whitespaces)
            guard !token.isEmpty else { throw DataError("'\(spec)': empty item in option list") }
            if let eq = token.firstIndex(of: "=") {
                let key = token[..<eq].trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "_", with: "-")
                let value = token[token.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                guard !key.isEmpty else { throw DataError("'\(spec)': missing key before '='") }
                guard values[key] == nil else { throw DataError("'\(spec)': key '\(key)' given twice") }
                guard !value.isEmpty else { throw DataError("'\(spec)': key '\(key)' has no value") }
                values[key] = [value]
                last = key
            } else {
                guard let last else { throw DataError("'\(spec)': '\(token)' is not key=value") }
                values[last]!.append(token)
            }
        }
    }

    mutating func take(_ key: String) throws -> String? {
        guard let v = values[key] else { return nil }
        used.insert(key)
        guard v.count == 1 else { throw DataError("'\(spec)': key '\(key)' takes one value, got \(v.joined(separator: ","))") }
        return v[0]
    }

    mutating func word(_ key: String, default value: String) throws -> String {
        try take(key)?.lowercased() ?? value
    }

    static func parseInt(_ s: String) -> Int? {
        if let v = Int(s) { return v }
        if let x = Double(s), x.isFinite, x == x.rounded(), abs(x) < 9e15 { return Int(x) }
        return nil
    }

    mutating func optionalInteger(_ key: String, minimum: Int) throws -> Int? {
        guard let s = try take(key) else { return nil }
        guard let v = Self.parseInt(s) else { throw DataError("'\(spec)': \(key)=\(s) is not an integer") }
        guard v >= minimum else { throw DataError("'\(spec)': \(key) must be ≥ \(minimum) (got \(v))") }
        return v
    }

    mutating func integer(_ key: String, default value: Int, minimum: Int) throws -> Int {
        try optionalInteger(key, minimum: minimum) ?? value
    }

    mutating func dimension() throws -> Int {
        guard values["d"] != nil else { throw DataError("'\(spec)': d=… is required") }
        return try optionalInteger("d", minimum: 1)!
    }

    /// n ≥ 1, or nil when omitted or `inf` (population).
    mutating func count() throws -> Int? {
        if let s = values["n"]?.first, ["inf", "infinity", "∞"].contains(s.lowercased()) {
            _ = try take("n")
            return nil
        }
        return try optionalInteger("n", minimum: 1)
    }

    mutating func nonNegative(_ key: String, default value: Double) throws -> Double {
        guard let s = try take(key) else { return value }
        guard let x = Double(s), x.isFinite else { throw DataError("'\(spec)': \(key)=\(s) is not a finite number") }
        guard x >= 0 else { throw DataError("'\(spec)': \(key) must be ≥ 0 (got \(s))") }
        return x
    }

    mutating func classes(default value: [Int]) throws -> [Int] {
        guard let list = values["classes"] else { return value }
        used.insert("classes")
        var out: [Int] = []
        for s in list {
            guard let v = Int(s) else { throw DataError("'\(spec)': class '\(s)' is not an integer") }
            guard !out.contains(v) else { throw DataError("'\(spec)': class \(v) listed twice") }
            out.append(v)
        }
        return out
    }

    mutating func centering() throws -> Centering {
        let s = try word("center", default: "scalar")
        guard let c = Centering(rawValue: s) else {
            throw DataError("'\(spec)': center must be scalar, feature or none (got '\(s)')")
        }
        return c
    }

    func finish(kind: String) throws {
        let unknown = Set(values.keys).subtracting(used).sorted()
        guard unknown.isEmpty else {
            throw DataError("'\(spec)': unknown key\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")) for \(kind)")
        }
    }
}
