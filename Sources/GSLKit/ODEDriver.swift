@preconcurrency import CGSL

/// Explicit embedded Runge–Kutta steppers of `gsl_odeiv2`.
public enum ODEStepper: String, Sendable, CaseIterable {
    /// Prince–Dormand 8(9): 13 right-hand sides per step; the default for smooth flows.
    case rk8pd
    /// Runge–Kutta–Fehlberg 4(5).
    case rkf45
    /// Cash–Karp 4(5).
    case rkck

    var gslType: UnsafePointer<gsl_odeiv2_step_type> {
        switch self {
        case .rk8pd: return cgsl_step_rk8pd()
        case .rkf45: return cgsl_step_rkf45()
        case .rkck: return cgsl_step_rkck()
        }
    }
}

/// An adaptive ODE integrator (`gsl_odeiv2_driver` with the standard error control
/// |err_i| ≤ absoluteTolerance + relativeTolerance·|y_i|) around a Swift right-hand side.
///
/// The right-hand side may throw; the error is carried past C and rethrown from `evolve`.
/// Step-size underflow, the step limit and non-finite derivatives become `GSLError`s.
public final class ODEDriver {
    /// `dydt = f(t, y)`; `y` and `dydt` have `dimension` elements.
    public typealias RightHandSide = (_ t: Double, _ y: [Double], _ dydt: inout [Double]) throws -> Void

    /// State reachable from the C trampoline through `params`.
    private final class Box {
        let rhs: RightHandSide
        let dimension: Int
        var y: [Double]
        var dydt: [Double]
        var error: Error?
        var evaluations = 0
        init(rhs: @escaping RightHandSide, dimension: Int) {
            self.rhs = rhs
            self.dimension = dimension
            self.y = Array(repeating: 0, count: dimension)
            self.dydt = Array(repeating: 0, count: dimension)
        }
    }

    public let dimension: Int
    public let stepper: ODEStepper
    public let absoluteTolerance: Double
    public let relativeTolerance: Double
    private let box: Box
    private let system: UnsafeMutablePointer<gsl_odeiv2_system>
    private let driver: UnsafeMutablePointer<gsl_odeiv2_driver>
    private let initialStep: Double

    /// Number of right-hand-side evaluations so far.
    public var evaluations: Int { box.evaluations }

    public init(dimension: Int, stepper: ODEStepper = .rk8pd, absoluteTolerance: Double = 1e-10,
                relativeTolerance: Double = 1e-10, initialStep: Double = 1e-3, maxSteps: Int = 1_000_000,
                rightHandSide: @escaping RightHandSide) throws(GSLError) {
        GSL.prepare()
        guard dimension >= 1 else { throw GSL.failure("ODEDriver", "dimension must be ≥ 1, got \(dimension)") }
        guard absoluteTolerance >= 0, relativeTolerance >= 0, absoluteTolerance + relativeTolerance > 0,
              initialStep > 0, initialStep.isFinite else {
            throw GSL.failure("ODEDriver", "tolerances must be ≥ 0 (not both 0) and the initial step > 0")
        }
        self.dimension = dimension
        self.stepper = stepper
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.initialStep = initialStep
        box = Box(rhs: rightHandSide, dimension: dimension)
        system = .allocate(capacity: 1)
        system.initialize(to: gsl_odeiv2_system(
            function: { t, y, dydt, params -> Int32 in
                let box = Unmanaged<Box>.fromOpaque(params!).takeUnretainedValue()
                let n = box.dimension
                for i in 0..<n { box.y[i] = y![i] }
                box.evaluations += 1
                do {
                    try box.rhs(t, box.y, &box.dydt)
                } catch {
                    box.error = error
                    return Int32(GSL_EBADFUNC)
                }
                for i in 0..<n {
                    let v = box.dydt[i]
                    if !v.isFinite {
                        box.error = GSL.failure("ODEDriver", "right-hand side is not finite at t = \(t)")
                        return Int32(GSL_EBADFUNC)
                    }
                    dydt![i] = v
                }
                return Int32(GSL_SUCCESS)
            },
            jacobian: nil,
            dimension: dimension,
            params: Unmanaged.passUnretained(box).toOpaque()))
        guard let d = gsl_odeiv2_driver_alloc_y_new(system, stepper.gslType, initialStep,
                                                    absoluteTolerance, relativeTolerance) else {
            system.deinitialize(count: 1)
            system.deallocate()
            throw GSL.failure("gsl_odeiv2_driver_alloc_y_new", "allocation failed")
        }
        driver = d
        gsl_odeiv2_driver_set_nmax(driver, UInt(max(0, maxSteps)))
    }

    deinit {
        gsl_odeiv2_driver_free(driver)
        system.deinitialize(count: 1)
        system.deallocate()
    }

    /// Integrates `y` from `t0` to `t1` (either direction) and returns the state at `t1`.
    public func evolve(_ y: inout [Double], from t0: Double, to t1: Double) throws {
        guard y.count == dimension else {
            throw GSL.failure("ODEDriver.evolve", "state has \(y.count) components, expected \(dimension)")
        }
        guard t0.isFinite, t1.isFinite else { throw GSL.failure("ODEDriver.evolve", "non-finite time") }
        if t0 == t1 { return }
        gsl_odeiv2_driver_reset(driver)
        gsl_odeiv2_driver_reset_hstart(driver, t1 > t0 ? initialStep : -initialStep)
        var t = t0
        box.error = nil
        let status = y.withUnsafeMutableBufferPointer { gsl_odeiv2_driver_apply(driver, &t, t1, $0.baseAddress!) }
        if let error = box.error { throw error }
        if status != GSL_SUCCESS {
            let reason: String
            switch Int(status) {
            case Int(GSL_EMAXITER): reason = "maximum number of steps reached at t = \(t)"
            case Int(GSL_ENOPROG): reason = "step size underflow at t = \(t)"
            default: reason = String(cString: gsl_strerror(status)) + " at t = \(t)"
            }
            throw GSLError(status: status, function: "gsl_odeiv2_driver_apply(\(stepper.rawValue))", reason: reason)
        }
    }
}
