//! The table of functions itself: one entry per function of the language.

/// The table of functions. `for_each_func!(m)` expands to `m! { [] entries }` and
/// `for_each_func!(m, tokens)` to `m! { [tokens] entries }`, so a pass can generate what it
/// needs from every entry (see `define_funcs` below, and `op.rs`).
///
/// An entry's fields:
/// - `name`: how calls are written and printed; `aliases`: other names read as it;
/// - `variadic: true`: takes one or more arguments, nested into binary calls;
/// - `commutative: true`: `f(a, b) = f(b, a)`, so canonical calls order their arguments;
/// - `value`: the value, `|a, b|` (unary functions ignore `b`);
/// - `derivative`: `∂f/∂a` (and `∂f/∂b`) written in the expression language over the
///   arguments `a` and `b`; its length is the arity; `"0"` where the function is
///   constant almost everywhere. The call itself may appear (`exp(a)`): hash-consing
///   makes it the node being differentiated;
/// - `spelling`: a call with its LaTeX form, or an infix operator;
/// - `sign`: what is known of the value's sign ([`FuncSign`]; default unknown);
/// - `entire`: defined and finite for every finite argument, so `0*f(x)` may fold to 0;
/// - `machine`: whether machine code calls the value's Rust function or does it inline.
///
/// The number after an entry's name is its discriminant: part of every call node's
/// structural hash, which orders the terms of canonical sums and products, so it never
/// changes; a new function takes the next free number. The entries' order is the one
/// "did you mean" prefers on a tie.
macro_rules! for_each_func {
    ($m:ident $(, $($extra:tt)*)?) => {
        $m! {
            [$($($extra)*)?]
            /// `exp(x)`.
            Exp = 0 {
                name: "exp",
                sign: FuncSign::Positive,
                value: |a, _| a.exp(),
                derivative: ["exp(a)"],
                spelling: Spelling::Call(Latex::Command("\\exp")),
                entire: true,
                machine: Machine::Call,
            }
            /// The natural logarithm, `ln(x)` (also spelled `log(x)`).
            Ln = 1 {
                name: "ln",
                value: |a, _| a.ln(),
                derivative: ["1/a"],
                spelling: Spelling::Call(Latex::Command("\\ln")),
                entire: false,
                machine: Machine::Call,
            }
            /// `log(x, b)`: the logarithm of `x` to the base `b`, `ln(x)/ln(b)`. One-argument
            /// `log(x)` is `ln(x)`, as in meval.
            LogBase = 45 {
                name: "log",
                called_as: Builtin::Log,
                value: |a, b| a.ln() / b.ln(),
                derivative: ["1/(a*ln(b))", "-log(a, b)/(b*ln(b))"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// `log2(x)`.
            Log2 = 2 {
                name: "log2",
                value: |a, _| a.log2(),
                // 1/ln(2), rounded as the division is.
                derivative: ["1.4426950408889634/a"],
                spelling: Spelling::Call(Latex::Command("\\log_{2}")),
                entire: false,
                machine: Machine::Call,
            }
            /// `log10(x)`.
            Log10 = 3 {
                name: "log10",
                value: |a, _| a.log10(),
                // 1/ln(10), rounded as the division is.
                derivative: ["0.43429448190325176/a"],
                spelling: Spelling::Call(Latex::Command("\\log_{10}")),
                entire: false,
                machine: Machine::Call,
            }
            /// `abs(x)`.
            Abs = 4 {
                name: "abs",
                sign: FuncSign::NonNegative,
                value: |a, _| a.abs(),
                derivative: ["sign(a)"],
                spelling: Spelling::Call(Latex::Around("\\left|", "\\right|")),
                entire: true,
                // Clearing the sign bit.
                machine: Machine::AndMask(!(1 << 63)),
            }
            /// The mathematical sign, with `sign(0) = 0`.
            Sign = 5 {
                name: "sign",
                aliases: ["sgn"],
                sign: FuncSign::OfArgument,
                value: |a, _| sign(a),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// Rust's `f64::signum`: `signum(0) = 1`, `signum(-0) = -1`.
            Signum = 6 {
                name: "signum",
                value: |a, _| a.signum(),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `sin(x)`.
            Sin = 7 {
                name: "sin",
                value: |a, _| a.sin(),
                derivative: ["cos(a)"],
                spelling: Spelling::Call(Latex::Command("\\sin")),
                entire: true,
                machine: Machine::Call,
            }
            /// `cos(x)`.
            Cos = 8 {
                name: "cos",
                value: |a, _| a.cos(),
                derivative: ["-sin(a)"],
                spelling: Spelling::Call(Latex::Command("\\cos")),
                entire: true,
                machine: Machine::Call,
            }
            /// `tan(x)`.
            Tan = 9 {
                name: "tan",
                value: |a, _| a.tan(),
                derivative: ["1 + tan(a)^2"],
                spelling: Spelling::Call(Latex::Command("\\tan")),
                entire: false,
                machine: Machine::Call,
            }
            /// The secant, `1/cos(x)`.
            Sec = 31 {
                name: "sec",
                value: |a, _| 1.0 / a.cos(),
                derivative: ["sec(a)*tan(a)"],
                spelling: Spelling::Call(Latex::Command("\\sec")),
                entire: false,
                machine: Machine::Call,
            }
            /// The cosecant, `1/sin(x)`.
            Csc = 32 {
                name: "csc",
                value: |a, _| 1.0 / a.sin(),
                derivative: ["-csc(a)*cot(a)"],
                spelling: Spelling::Call(Latex::Command("\\csc")),
                entire: false,
                machine: Machine::Call,
            }
            /// The cotangent, `cos(x)/sin(x)`.
            Cot = 30 {
                name: "cot",
                value: |a, _| 1.0 / a.tan(),
                derivative: ["-1 - cot(a)^2"],
                spelling: Spelling::Call(Latex::Command("\\cot")),
                entire: false,
                machine: Machine::Call,
            }
            /// `asin(x)`.
            Asin = 10 {
                name: "asin",
                aliases: ["arcsin"],
                value: |a, _| a.asin(),
                derivative: ["(1 - a^2)^(-0.5)"],
                spelling: Spelling::Call(Latex::Command("\\arcsin")),
                entire: false,
                machine: Machine::Call,
            }
            /// `acos(x)`.
            Acos = 11 {
                name: "acos",
                aliases: ["arccos"],
                sign: FuncSign::NonNegative,
                value: |a, _| a.acos(),
                derivative: ["-(1 - a^2)^(-0.5)"],
                spelling: Spelling::Call(Latex::Command("\\arccos")),
                entire: false,
                machine: Machine::Call,
            }
            /// `atan(x)`.
            Atan = 12 {
                name: "atan",
                aliases: ["arctan"],
                sign: FuncSign::OfArgument,
                value: |a, _| a.atan(),
                derivative: ["1/(1 + a^2)"],
                spelling: Spelling::Call(Latex::Command("\\arctan")),
                entire: true,
                machine: Machine::Call,
            }
            /// The inverse secant, `acos(1/x)`, for `|x| >= 1`.
            Asec = 36 {
                name: "asec",
                aliases: ["arcsec"],
                value: |a, _| (1.0 / a).acos(),
                derivative: ["1/(abs(a)*(a^2 - 1)^0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The inverse cosecant, `asin(1/x)`, for `|x| >= 1`.
            Acsc = 37 {
                name: "acsc",
                aliases: ["arccsc"],
                value: |a, _| (1.0 / a).asin(),
                derivative: ["-1/(abs(a)*(a^2 - 1)^0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The inverse cotangent, `atan(1/x)` (values in (-pi/2, pi/2], `pi/2` at 0).
            Acot = 38 {
                name: "acot",
                aliases: ["arccot"],
                value: |a, _| (1.0 / a).atan(),
                derivative: ["-1/(1 + a^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `atan2(y, x)`.
            Atan2 = 25 {
                name: "atan2",
                value: |y, x| y.atan2(x),
                derivative: ["b/(a^2 + b^2)", "-a/(a^2 + b^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `sinh(x)`.
            Sinh = 13 {
                name: "sinh",
                sign: FuncSign::OfArgument,
                value: |a, _| a.sinh(),
                derivative: ["cosh(a)"],
                spelling: Spelling::Call(Latex::Command("\\sinh")),
                entire: true,
                machine: Machine::Call,
            }
            /// `cosh(x)`.
            Cosh = 14 {
                name: "cosh",
                sign: FuncSign::Positive,
                value: |a, _| a.cosh(),
                derivative: ["sinh(a)"],
                spelling: Spelling::Call(Latex::Command("\\cosh")),
                entire: true,
                machine: Machine::Call,
            }
            /// `tanh(x)`.
            Tanh = 15 {
                name: "tanh",
                sign: FuncSign::OfArgument,
                value: |a, _| a.tanh(),
                derivative: ["1 - tanh(a)^2"],
                spelling: Spelling::Call(Latex::Command("\\tanh")),
                entire: true,
                machine: Machine::Call,
            }
            /// The hyperbolic secant, `1/cosh(x)`.
            Sech = 33 {
                name: "sech",
                sign: FuncSign::Positive,
                value: |a, _| 1.0 / a.cosh(),
                derivative: ["-sech(a)*tanh(a)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// The hyperbolic cosecant, `1/sinh(x)`.
            Csch = 34 {
                name: "csch",
                value: |a, _| 1.0 / a.sinh(),
                derivative: ["-csch(a)*coth(a)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The hyperbolic cotangent, `1/tanh(x)`.
            Coth = 35 {
                name: "coth",
                value: |a, _| 1.0 / a.tanh(),
                derivative: ["1 - coth(a)^2"],
                spelling: Spelling::Call(Latex::Command("\\coth")),
                entire: false,
                machine: Machine::Call,
            }
            /// `asinh(x)`.
            Asinh = 16 {
                name: "asinh",
                aliases: ["arsinh", "arcsinh"],
                sign: FuncSign::OfArgument,
                value: |a, _| a.asinh(),
                derivative: ["(a^2 + 1)^(-0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `acosh(x)`.
            Acosh = 17 {
                name: "acosh",
                aliases: ["arcosh", "arccosh"],
                sign: FuncSign::NonNegative,
                value: |a, _| a.acosh(),
                derivative: ["(a^2 - 1)^(-0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// `atanh(x)`.
            Atanh = 18 {
                name: "atanh",
                aliases: ["artanh", "arctanh"],
                value: |a, _| a.atanh(),
                derivative: ["1/(1 - a^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The inverse hyperbolic secant, `acosh(1/x)`, for `0 < x <= 1`.
            Asech = 39 {
                name: "asech",
                aliases: ["arsech", "arcsech"],
                value: |a, _| (1.0 / a).acosh(),
                derivative: ["-1/(a*(1 - a^2)^0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The inverse hyperbolic cosecant, `asinh(1/x)`.
            Acsch = 40 {
                name: "acsch",
                aliases: ["arcsch", "arccsch"],
                value: |a, _| (1.0 / a).asinh(),
                derivative: ["-1/(abs(a)*(1 + a^2)^0.5)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The inverse hyperbolic cotangent, `atanh(1/x)`, for `|x| > 1`.
            Acoth = 41 {
                name: "acoth",
                aliases: ["arcoth", "arccoth"],
                value: |a, _| (1.0 / a).atanh(),
                derivative: ["1/(1 - a^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The real cube root: `cbrt(-8) = -2`.
            Cbrt = 42 {
                name: "cbrt",
                sign: FuncSign::OfArgument,
                value: |a, _| a.cbrt(),
                derivative: ["1/(3*cbrt(a)^2)"],
                spelling: Spelling::Call(Latex::Around("\\sqrt[3]{", "}")),
                entire: true,
                machine: Machine::Call,
            }
            /// The real `n`-th root `root(x, n)`: `x^(1/n)`, and for an odd integer `n` also
            /// of a negative `x` (`root(-8, 3) = -2`).
            Root = 43 {
                name: "root",
                value: |a, n| root(a, n),
                derivative: ["1/(b*root(a, b)^(b - 1))", "-root(a, b)*ln(abs(a))/b^2"],
                spelling: Spelling::Call(Latex::Named),
                entire: false,
                machine: Machine::Call,
            }
            /// The error function, `2/sqrt(pi)` times the integral of `exp(-t^2)` from 0.
            Erf = 44 {
                name: "erf",
                sign: FuncSign::OfArgument,
                value: |a, _| libm::erf(a),
                // 2/sqrt(pi)
                derivative: ["1.1283791670955126*exp(-a^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// The complementary error function, `1 - erf(x)`, accurate where it is small.
            Erfc = 46 {
                name: "erfc",
                sign: FuncSign::Positive,
                value: |a, _| libm::erfc(a),
                derivative: ["-1.1283791670955126*exp(-a^2)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// The logistic function `1/(1 + exp(-x))`, evaluated stably. The compiler
            /// lowers it with softplus to operations sharing one exponential.
            Sigmoid = 19 {
                name: "sigmoid",
                sign: FuncSign::Positive,
                value: |a, _| sigmoid(a),
                derivative: ["sigmoid(a)*(1 - sigmoid(a))"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `ln(1 + exp(x))`, evaluated stably.
            Softplus = 20 {
                name: "softplus",
                sign: FuncSign::Positive,
                value: |a, _| softplus(a),
                derivative: ["sigmoid(a)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `min(a, b)` as meval computes it: a NaN argument is ignored; both NaN give
            /// +inf. `min(a)` is `min(a, a)`.
            Min = 28 {
                name: "min",
                variadic: true,
                commutative: true,
                // meval folds from an infinity: a NaN argument is ignored, and all-NaN
                // arguments give the infinity.
                value: |a, b| f64::INFINITY.min(a).min(b),
                // The selected argument gets 1, the other 0; signum(+0) = 1 settles ties
                // on the first argument.
                derivative: ["0.5 + 0.5*signum(b - a)", "0.5 - 0.5*signum(b - a)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `max(a, b)` as meval computes it: a NaN argument is ignored; both NaN give
            /// -inf.
            Max = 29 {
                name: "max",
                variadic: true,
                commutative: true,
                value: |a, b| f64::NEG_INFINITY.max(a).max(b),
                derivative: ["0.5 + 0.5*signum(a - b)", "0.5 - 0.5*signum(a - b)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `floor(x)`.
            Floor = 21 {
                name: "floor",
                value: |a, _| a.floor(),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Around("\\left\\lfloor ", "\\right\\rfloor")),
                entire: true,
                machine: Machine::Call,
            }
            /// `ceil(x)`.
            Ceil = 22 {
                name: "ceil",
                value: |a, _| a.ceil(),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Around("\\left\\lceil ", "\\right\\rceil")),
                entire: true,
                machine: Machine::Call,
            }
            /// Rounds half away from zero, as `f64::round`.
            Round = 23 {
                name: "round",
                value: |a, _| a.round(),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// Rounds toward zero, as `f64::trunc` (the derivative of `%` needs it).
            Trunc = 24 {
                name: "trunc",
                value: |a, _| a.trunc(),
                derivative: ["0"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `hypot(x, y) = sqrt(x^2 + y^2)` without overflow.
            Hypot = 26 {
                name: "hypot",
                commutative: true,
                sign: FuncSign::NonNegative,
                value: |a, b| a.hypot(b),
                derivative: ["a/hypot(a, b)", "b/hypot(a, b)"],
                spelling: Spelling::Call(Latex::Named),
                entire: true,
                machine: Machine::Call,
            }
            /// `a % b`: the remainder with the sign of the dividend, as Rust's `%` on `f64`.
            Rem = 27 {
                name: "rem",
                value: |a, b| a % b,
                // a % b = a - b*trunc(a/b)
                derivative: ["1", "-trunc(a/b)"],
                spelling: Spelling::Infix { text: "%", latex: "\\bmod" },
                entire: false,
                machine: Machine::Call,
            }
        }
    };
}
pub(crate) use for_each_func;
