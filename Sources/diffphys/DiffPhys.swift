import ArgumentParser
import DiffusionPhysics

@main
struct DiffPhys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffphys",
        abstract: "Statistical physics of generative diffusion with the exact empirical score.",
        discussion: """
        Measures when a diffusion model commits to a class (speciation time t_S) and when it \
        collapses onto training points (collapse time t_C), with the exact score of the noised \
        data — no neural network — and sets each measurement beside its analytic prediction.

        Conventions (Docs/Theory.md §0): forward OU process dx = −x dt + √2 dW, x_t = a e^{−t} + √Δ_t ξ, \
        Δ_t = 1 − e^{−2t}; "t" is always the forward (noising) time; score F = ∇ ln P_t.
        """,
        subcommands: [
            OverviewCommand.self,
            ScoreCommand.self,
            SampleCommand.self,
            SpeciationCommand.self,
            CollapseCommand.self,
            MemorizationMapCommand.self,
            AnalyzeCommand.self,
            TheoryCommand.self,
            ReproduceCommand.self,
            PFGMCommand.self,
            GenPhysCommand.self,
            BenchCommand.self,
        ])

    /// Parses and runs the command; library errors are reported with the flag of the parameter
    /// they name (`CLIError`).
    static func main() {
        BLASCoreSelection.run()   // may re-execute the process once with a better OpenBLAS core
        Startup.prepare()
        if let problem = Startup.environmentProblem() { Startup.fail(problem) }
        do {
            var command = try parseAsRoot()
            try Startup.configureThreads(command)
            try command.run()
        } catch {
            Startup.finishStandardOutput()
            exit(withError: CLIError.map(error))
        }
        Startup.finishStandardOutput()
    }
}
