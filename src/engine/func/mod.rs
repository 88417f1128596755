//! The built-in functions, each declared once in `for_each_func!` (the table in `table.rs`): its name, arity,
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

mod table;

pub(crate) use table::for_each_func;

mod math;
mod names;

pub use math::{ln_1p_unit, root, sigmoid, sign, softplus};
pub use names::{lookup, suggest, unsupported, Builtin, TensorFn, NAMES, TENSOR_NAMES};

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
