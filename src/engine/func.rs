//! The built-in functions, each declared once in `for_each_func!` (the table below): its name, arity,
//! value, derivative, spelling and what machine code does with it. Every pass draws on
//! that table: the parser resolves names with [`lookup`], canonicalisation folds calls
//! on constants with [`Func::eval`], `diff` instantiates [`Func::derivative`], the printer
//! writes [`Func::name`] and [`Func::spelling`], and `op` makes one tape operation per
//! function whose arithmetic is [`Func::eval`] again, so the value of a folded constant,
//! of an interpreted call and of a call in machine code never disagree. Where meval 0.2
//! defines a function, the value here is meval's (Rust's `f64` method of the same name).
//!
//! Adding a function is one entry in the table (and its tests).
//!
//! Some names of the language are not functions of the DAG: `sqrt(x)` is `x^0.5`,
//! `pow(x, y)` is `x^y`, `log(x)` is `ln(x)`, and `min`/`max` of several arguments nest
//! binary calls. [`lookup`] says what each name becomes.

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

/// How a function is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `name(args)` in text; in LaTeX as given.
    Call(Latex),
    /// An operator between its two arguments, binding like a product.
    Infix {
        /// The operator in the expression language.
        text: &'static str,
        /// The operator in LaTeX.
        latex: &'static str,
    },
}

/// How a call is written in LaTeX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Latex {
    /// A command before the parenthesised argument: `\sin\left(x\right)`.
    Command(&'static str),
    /// The argument between two delimiters: `\left|x\right|`.
    Around(&'static str, &'static str),
    /// `\operatorname{name}` before the parenthesised arguments.
    Named,
}

/// What is known of the sign of a function's value wherever it is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncSign {
    /// Nothing.
    Unknown,
    /// Always greater than 0 (`exp`, `cosh`).
    Positive,
    /// Never less than 0 (`abs`, `acos`).
    NonNegative,
    /// The sign of the (first) argument (`sinh`, `atan`, `cbrt`).
    OfArgument,
}

/// What machine code does for a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// Calls the Rust function computing the value.
    Call,
    /// The value is the argument's bits and this mask, inline.
    AndMask(u64),
}

/// Applies a value closure of the table to two arguments (its parameter types given here,
/// so the table's closures need none).
#[inline(always)]
fn value2(f: impl Fn(f64, f64) -> f64, a: f64, b: f64) -> f64 {
    f(a, b)
}

/// `FuncSign::Unknown` unless the entry says otherwise.
macro_rules! or_unknown {
    () => {
        FuncSign::Unknown
    };
    ($v:expr) => {
        $v
    };
}

/// `None` unless the entry says otherwise.
macro_rules! or_none {
    () => {
        None
    };
    ($v:expr) => {
        Some($v)
    };
}

/// `false` unless the entry says otherwise.
macro_rules! or_false {
    () => {
        false
    };
    ($v:literal) => {
        $v
    };
}

/// Generates [`Func`] and its facts from the table.
macro_rules! define_funcs {
    (
        []
        $(
            $(#[$doc:meta])*
            $func:ident = $id:literal {
                name: $name:literal,
                $(aliases: [$($alias:literal),* $(,)?],)?
                $(called_as: $called_as:expr,)?
                $(variadic: $variadic:literal,)?
                $(commutative: $commutative:literal,)?
                $(sign: $sign:expr,)?
                $(#[$value_doc:meta])*
                value: $value:expr,
                $(#[$derivative_doc:meta])*
                derivative: [$($derivative:literal),+ $(,)?],
                spelling: $spelling:expr,
                entire: $entire:literal,
                $(#[$machine_doc:meta])*
                machine: $machine:expr,
            }
        )*
    ) => {
        /// A function node of the expression DAG.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Func {
            $($(#[$doc])* $func = $id,)*
        }

        impl Func {
            /// Every function, in the table's order.
            pub const ALL: &'static [Func] = &[$(Func::$func),*];

            /// The name the printer writes; it parses back to this function (except for
            /// an [`Spelling::Infix`] operator, written with its operator).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Func::$func => $name,)*
                }
            }

            /// The number of arguments of the DAG node.
            pub const fn arity(self) -> usize {
                match self {
                    $(Func::$func => [$($derivative),+].len(),)*
                }
            }

            /// Whether the function is defined and finite for every finite argument (in
            /// exact arithmetic). `0*f(x)` folds to `0` only when `f` is entire: folding
            /// `0*ln(x)` would hide that the expression is undefined for `x <= 0`.
            pub const fn is_entire(self) -> bool {
                match self {
                    $(Func::$func => $entire,)*
                }
            }

            /// Whether `f(a, b) = f(b, a)`, so canonical calls order their arguments.
            pub const fn is_commutative(self) -> bool {
                match self {
                    $(Func::$func => or_false!($($commutative)?),)*
                }
            }

            /// What is known of the sign of a call wherever it is defined.
            pub const fn sign(self) -> FuncSign {
                match self {
                    $(Func::$func => or_unknown!($($sign)?),)*
                }
            }

            /// Whether a call takes one or more arguments, nested into binary calls.
            pub const fn is_variadic(self) -> bool {
                match self {
                    $(Func::$func => or_false!($($variadic)?),)*
                }
            }

            /// The function's value. Binary functions take `b` as their second argument;
            /// unary ones ignore it.
            #[inline(always)]
            pub fn eval(self, a: f64, b: f64) -> f64 {
                match self {
                    $(Func::$func => value2($value, a, b),)*
                }
            }

            /// The partial derivatives, one per argument, in the expression language over
            /// the arguments `a` and `b`; `"0"` where the function is constant almost
            /// everywhere.
            pub const fn derivative(self) -> &'static [&'static str] {
                match self {
                    $(Func::$func => &[$($derivative),+],)*
                }
            }

            /// How the function is written.
            pub const fn spelling(self) -> Spelling {
                match self {
                    $(Func::$func => $spelling,)*
                }
            }

            /// What machine code does for the function.
            pub const fn machine(self) -> Machine {
                match self {
                    $(Func::$func => $machine,)*
                }
            }
        }

        /// Every name of the table, aliases after the name, with its function and, for a
        /// name read otherwise than as a call of that function, what it is read as.
        const TABLE_NAMES: &[(&str, Func, Option<Builtin>)] = &[
            $(
                ($name, Func::$func, or_none!($($called_as)?)),
                $($(($alias, Func::$func, None),)*)?
            )*
        ];
    };
}

for_each_func!(define_funcs);

/// What a function name of the language means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// A function node with a fixed number of arguments.
    Func(Func),
    /// `sqrt(x)`, canonically `x^0.5`.
    Sqrt,
    /// `pow(x, y)`, canonically `x^y`.
    Pow,
    /// `min` or `max` of one or more arguments, nested into binary calls.
    Variadic(Func),
    /// `log(x)`, the natural logarithm as in meval, or `log(x, b)` to the base `b`.
    Log,
}

/// The number of names of the language: the table's called ones, `sqrt` and `pow`.
const NAME_COUNT: usize = {
    let mut n = 2;
    let mut i = 0;
    while i < TABLE_NAMES.len() {
        if matches!(TABLE_NAMES[i].1.spelling(), Spelling::Call(_)) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Every function name of the language with what it means, in the order "did you mean"
/// prefers on a tie: `sqrt`, the table's names (an operator such as `%` has none), `pow`.
pub const NAMES: [(&str, Builtin); NAME_COUNT] = {
    let mut names = [("sqrt", Builtin::Sqrt); NAME_COUNT];
    let mut n = 1;
    let mut i = 0;
    while i < TABLE_NAMES.len() {
        let (name, f, called_as) = TABLE_NAMES[i];
        if matches!(f.spelling(), Spelling::Call(_)) {
            let builtin = match called_as {
                Some(b) => b,
                None if f.is_variadic() => Builtin::Variadic(f),
                None => Builtin::Func(f),
            };
            names[n] = (name, builtin);
            n += 1;
        }
        i += 1;
    }
    names[n] = ("pow", Builtin::Pow);
    names
};

/// Whether some function name starts with the byte: most names in an expression are
/// variables, and this turns them away without comparing them with every function name.
const FIRST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < NAMES.len() {
        table[NAMES[i].0.as_bytes()[0] as usize] = true;
        i += 1;
    }
    table
};

/// Resolves a function name of the language.
pub fn lookup(name: &str) -> Option<Builtin> {
    let &first = name.as_bytes().first()?;
    if !FIRST_BYTES[first as usize] {
        return None;
    }
    NAMES.iter().find(|(n, _)| *n == name).map(|&(_, b)| b)
}

impl Builtin {
    /// The accepted argument counts: `(min, max)`, `max = None` for "or more".
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Builtin::Func(f) => (f.arity(), Some(f.arity())),
            Builtin::Sqrt => (1, Some(1)),
            Builtin::Pow => (2, Some(2)),
            Builtin::Variadic(_) => (1, None),
            Builtin::Log => (1, Some(2)),
        }
    }
}
/// The real `n`-th root of `x`: `x^(1/n)`, and `-(-x)^(1/n)` for a negative `x` and an
/// odd integer `n`.
pub fn root(x: f64, n: f64) -> f64 {
    if x < 0.0 && n.fract() == 0.0 && n % 2.0 != 0.0 {
        -(-x).powf(1.0 / n)
    } else {
        x.powf(1.0 / n)
    }
}

/// The mathematical sign: -1, 0 or 1 (NaN for NaN).
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0 // 0 for ±0, NaN for NaN
    }
}

/// `1/(1 + exp(-x))` without overflow: finite and accurate for every finite `x`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + exp(x))` without overflow or cancellation.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + ln_1p_unit((-x).exp())
    } else {
        ln_1p_unit(x.exp())
    }
}

/// `ln(1 + b)` for `0 <= b <= 1` (NaN gives NaN), as softplus needs it: `ln(w)` of the
/// rounded `w = 1 + b`, plus `r / w` for the rounding error `r = b - (w - 1)` (exact: `w - 1`
/// is exact for `w` in `[1, 2]`), the first term of `ln(1 + r/w)`. About as accurate as
/// glibc's `log1p` and, unlike it, as fast for every `b` (figures in `benches/README.md`).
#[inline]
pub fn ln_1p_unit(b: f64) -> f64 {
    let w = 1.0 + b;
    w.ln() + (b - (w - 1.0)) / w
}

/// Well-known function names the language does not have, with how to write them instead:
/// a student who calls one is told so, not offered a near name that changes the function
/// (`sinc` is not `sin`).
const UNSUPPORTED: &[(&str, &str)] = &[
    ("mod", "write a % b for the remainder"),
    ("fmod", "write a % b for the remainder"),
    ("ceiling", "write ceil(x)"),
    ("sqr", "write x^2"),
    ("cube", "write x^3"),
    ("log1p", "write ln(1 + x)"),
    ("ln1p", "write ln(1 + x)"),
    ("expm1", "write exp(x) - 1"),
    ("exp2", "write 2^x"),
    ("exp10", "write 10^x"),
    ("lg", "write log10(x) (or log2(x) if you meant base 2)"),
    ("lb", "write log2(x)"),
    ("ld", "write log2(x)"),
    ("tg", "write tan(x)"),
    ("ctg", "write cot(x)"),
    ("cotan", "write cot(x)"),
    ("cosec", "write csc(x)"),
    ("arctg", "write atan(x)"),
    ("arcctg", "write acot(x)"),
    ("sh", "write sinh(x)"),
    ("ch", "write cosh(x)"),
    ("th", "write tanh(x)"),
    ("sinc", "write sin(x)/x"),
    ("heaviside", "write (1 + sign(x))/2"),
    ("step", "write (1 + sign(x))/2"),
    ("deg", "write x*180/pi"),
    ("rad", "write x*pi/180"),
    ("gamma", "the gamma function is not supported"),
    ("lgamma", "the gamma function is not supported"),
    ("loggamma", "the gamma function is not supported"),
    ("digamma", "the gamma function is not supported"),
    (
        "factorial",
        "factorials are not supported; write the product out",
    ),
    (
        "fact",
        "factorials are not supported; write the product out",
    ),
    ("beta", "the beta function is not supported"),
    (
        "binomial",
        "binomial coefficients are not supported; write the number",
    ),
    (
        "binom",
        "binomial coefficients are not supported; write the number",
    ),
    (
        "choose",
        "binomial coefficients are not supported; write the number",
    ),
    ("zeta", "the zeta function is not supported"),
    ("erfinv", "the inverse error function is not supported"),
    ("lambertw", "the Lambert W function is not supported"),
    ("sum", "sums are not supported; write the terms out with +"),
    (
        "prod",
        "products are not supported; write the factors out with *",
    ),
    (
        "diff",
        "write the expression itself: nabla differentiates it",
    ),
    ("int", "integrals are not supported"),
    ("arg", "complex numbers are not supported"),
    ("re", "complex numbers are not supported"),
    ("im", "complex numbers are not supported"),
    ("conj", "complex numbers are not supported"),
];

/// How to write a well-known function the language does not have, if `name` is one.
pub fn unsupported(name: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, advice)| advice)
}

/// The function name closest to `name` by edit distance (one edit for a name of up to
/// three letters, two for a longer one): the "did you mean" of an unknown function.
pub fn suggest(name: &str) -> Option<&'static str> {
    let common_prefix = |c: &str| {
        c.bytes()
            .zip(name.bytes())
            .take_while(|(a, b)| a == b)
            .count()
    };
    NAMES
        .iter()
        .map(|&(candidate, _)| (edit_distance(name, candidate), candidate))
        // A short name is near too many: one edit for up to three letters (`f` is not
        // `ln`), two for longer ones.
        .filter(|&(d, _)| d <= if name.len() <= 3 { 1 } else { 2 })
        // Fewest edits; on a tie the longest shared prefix (`sinn` is `sin`, not `sign`).
        .min_by_key(|&(d, c)| (d, std::cmp::Reverse(common_prefix(c))))
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes; names are short, so the quadratic table is cheap. A
/// long name is cut at 64 bytes: nothing that long is within two edits of a function.
fn edit_distance(a: &str, b: &str) -> usize {
    let a = &a.as_bytes()[..a.len().min(64)];
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}
