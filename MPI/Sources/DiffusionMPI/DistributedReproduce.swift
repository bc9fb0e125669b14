import DiffusionPhysics
import DiffusionStudies
import Foundation

/// `diffphys reproduce` across MPI ranks (README "MPI"): the same study folders, the same
/// resumable row files, reports and index, computed by K processes with the library's
/// `StudyRunner` (never a copy of it).
///
/// Work units, in the single-process order of the chosen studies:
/// - a study that declares itself `RowSplittableStudy` (rows independent per value of one list
///   parameter, e.g. d) gives one unit per value whose rows are still missing from its row file;
///   the owner runs `StudyRunner.run` on the study narrowed to that value into its own folder
///   under `OUT/mpi-ranks/rank-R/` (resumable too);
/// - any other study is one unit: its owner runs `StudyRunner.run` on it straight into
///   `OUT/NAME/` and leaves its outcome for rank 0 in `OUT/mpi-ranks/`.
///
/// Units are dealt round-robin (unit u to rank u mod K), as the memorisation map deals its rows.
/// When every rank is done, rank 0 appends the split studies' rows to `OUT/NAME/<row file>` in
/// the single-process order and runs `StudyRunner.run` on each of them — it finds every row done
/// and writes the theory, figure, checks and report exactly as one process would — then writes
/// `OUT/index.md` for `all`. The output folder must be shared by the ranks.
public struct DistributedReproduce {
    public let studies: [StudyDeclaration]
    public let quick: Bool
    public let out: String
    public let seed: UInt64
    public let threads: Int
    public let fresh: Bool
    public let mpi: MPIHandle

    public init(studies: [StudyDeclaration], quick: Bool, out: String, seed: UInt64, threads: Int, fresh: Bool, mpi: MPIHandle) {
        self.studies = studies
        self.quick = quick
        self.out = out
        self.seed = seed
        self.threads = threads
        self.fresh = fresh
        self.mpi = mpi
    }

    /// One unit: a study, narrowed to one row value or whole, and its owner.
    struct Unit { var study: Int; var value: Double?; var owner: Int }

    /// What a rank that ran a whole study hands to rank 0.
    struct Handoff: Codable { var checks: [StudyCheck]; var figure: String?; var dataFiles: [String]; var notes: [String]; var seconds: Double }

    /// Runs the studies. Returns (study, outcome, seconds) in study order on rank 0, nil on the
    /// others. Collective; a rank that throws must end the run (`MPIHandle.abort`).
    public func run(failOnRank: Int? = nil) throws -> [(StudyDeclaration, StudyOutcome, Double)]? {
        let work = out + "/mpi-ranks"
        // Rank 0 claims every study folder (manifest; --fresh removes earlier rows) before anyone reads it.
        if mpi.isRoot {
            for s in studies {
                let dir = out + "/" + s.name
                do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                    throw OutputError("cannot create folder \(dir): \(error)")
                }
                let existing = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
                    .filter { !$0.hasPrefix(".") && $0 != RunManifest.fileName }
                try StudyRunner.manifest(s, parameters: s.resolved(quick: quick), quick: quick, seed: seed)
                    .claim(directory: dir, rowFiles: existing, fresh: fresh)
            }
        }
        mpi.barrier()
        let units = try self.units()
        if failOnRank == mpi.rank { throw ModelError("injected failure (--fail-on-rank \(mpi.rank))") }
        for unit in units where unit.owner == mpi.rank {
            let s = studies[unit.study]
            if let value = unit.value, let kind = StudyRunner.kinds[s.measurement] as? any RowSplittableStudy.Type {
                _ = try StudyRunner.run(s.narrowed(kind.rowAxis, to: value), quick: quick, out: unitFolder(work, unit),
                                        seed: seed, threads: threads, showProgress: false)
            } else {
                let (o, seconds) = try StudyRunner.run(s, quick: quick, out: out, seed: seed, threads: threads, showProgress: false)
                let handoff = Handoff(checks: o.checks, figure: o.figure, dataFiles: o.dataFiles, notes: o.notes, seconds: seconds)
                try AtomicFile.write(try JSONEncoder().encode(handoff), to: "\(work)/outcome-\(s.name).json")
            }
        }
        mpi.barrier()
        guard mpi.isRoot else {
            mpi.barrier()
            return nil
        }
        // Merge the split rows in single-process order, then let the runner finish each study.
        for unit in units where unit.value != nil {
            let s = studies[unit.study]
            let kind = StudyRunner.kinds[s.measurement] as! any RowSplittableStudy.Type
            let part = "\(unitFolder(work, unit))/\(s.name)/\(kind.rowFile)"
            guard let text = try? String(contentsOfFile: part, encoding: .utf8) else {
                throw ModelError("rank \(unit.owner) left no rows for \(s.name) \(kind.rowAxis) = \(unit.value!) in \(part)")
            }
            let lines = text.split(separator: "\n").map(String.init)
            guard let header = lines.first else { throw ModelError("\(part) is empty") }
            let csv = try ResumableCSV(path: "\(out)/\(s.name)/\(kind.rowFile)", header: header.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
            for line in lines.dropFirst() {
                try csv.append(line.split(separator: ",", omittingEmptySubsequences: false).map { CSVValue.text(String($0)) })
            }
        }
        var results: [(StudyDeclaration, StudyOutcome, Double)] = []
        for (i, s) in studies.enumerated() {
            if StudyRunner.kinds[s.measurement] is any RowSplittableStudy.Type || !units.contains(where: { $0.study == i }) {
                // Split studies (rows now all present) and studies with nothing dealt: the runner itself.
                let (o, seconds) = try StudyRunner.run(s, quick: quick, out: out, seed: seed, threads: threads, showProgress: false)
                results.append((s, o, seconds))
            } else {
                let path = "\(work)/outcome-\(s.name).json"
                guard let data = FileManager.default.contents(atPath: path) else { throw ModelError("no outcome of \(s.name) in \(path)") }
                let h = try JSONDecoder().decode(Handoff.self, from: data)
                var o = StudyOutcome()
                o.checks = h.checks
                o.figure = h.figure
                o.dataFiles = h.dataFiles
                o.notes = h.notes
                results.append((s, o, h.seconds))
            }
        }
        try? FileManager.default.removeItem(atPath: work)
        mpi.barrier()
        return results
    }

    func unitFolder(_ work: String, _ unit: Unit) -> String {
        "\(work)/rank-\(unit.owner)/\(studies[unit.study].name)-\(unit.value.map { "\($0)" } ?? "all")"
    }

    /// The units still to compute, in order, with their owners. A split study's value is done
    /// when its row file already holds all its rows (as the study itself decides).
    func units() throws -> [Unit] {
        var units: [Unit] = []
        for (i, s) in studies.enumerated() {
            guard let kind = StudyRunner.kinds[s.measurement] else {
                throw StudyError("study \(s.name): unknown measurement '\(s.measurement)'")
            }
            guard let split = kind as? any RowSplittableStudy.Type else {
                units.append(Unit(study: i, value: nil, owner: units.count % mpi.size))
                continue
            }
            let p = s.resolved(quick: quick)
            let values = try p.numbers(split.rowAxis), perValue = try p.numbers(split.rowsPerValue).count
            let text = (try? String(contentsOfFile: "\(out)/\(s.name)/\(split.rowFile)", encoding: .utf8)) ?? ""
            var counts: [String: Int] = [:]
            for line in text.split(separator: "\n").dropFirst() {
                counts[String(line.split(separator: ",", maxSplits: 1).first ?? ""), default: 0] += 1
            }
            for v in values where counts[CSVValue.integer(Int(v)).text, default: 0] < perValue {
                units.append(Unit(study: i, value: v, owner: units.count % mpi.size))
            }
        }
        return units
    }
}
