//! The names of the language: what each resolves to ([`lookup`]), and what an unknown
//! one is told ([`suggest`], [`unsupported`]).

use super::{Func, Spelling, TABLE_NAMES};

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
    /// A function of vectors and matrices (`tr`, `inv`, ...). Its name is a call only
    /// when `(` follows, so a variable may still be called `tr`.
    Tensor(TensorFn),
}

/// The functions of vectors and matrices. On scalars each has its scalar meaning
/// (`tr(t) = t`, `inv(t) = 1/t`, `norm(t) = abs(t)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TensorFn {
    /// `transpose(A)`, the same as `A'`.
    Transpose,
    /// `dot(a, b)`: the sum of the elementwise product.
    Dot,
    /// `sum(X)`: the sum of all entries.
    Sum,
    /// `norm(X)`: the Euclidean (Frobenius) norm.
    Norm,
    /// `norm1(X)`: the sum of the absolute values of the entries.
    Norm1,
    /// `tr(A)`: the trace.
    Tr,
    /// `det(A)`: the determinant.
    Det,
    /// `logdet(A)`: `ln(det(A))`.
    Logdet,
    /// `inv(A)`: the inverse.
    Inv,
    /// `diag(x)`: the diagonal matrix of a vector; `diag(A)`: the diagonal of a square
    /// matrix.
    Diag,
    /// `eye(n)`: the identity matrix of size `n`.
    Eye,
    /// `ones(n)` or `ones(m, n)`: a vector or matrix of ones.
    Ones,
    /// `zeros(n)` or `zeros(m, n)`: a vector or matrix of zeros.
    Zeros,
}

/// The names of the functions of vectors and matrices.
pub const TENSOR_NAMES: [(&str, TensorFn); 13] = [
    ("transpose", TensorFn::Transpose),
    ("dot", TensorFn::Dot),
    ("sum", TensorFn::Sum),
    ("norm", TensorFn::Norm),
    ("norm1", TensorFn::Norm1),
    ("tr", TensorFn::Tr),
    ("det", TensorFn::Det),
    ("logdet", TensorFn::Logdet),
    ("inv", TensorFn::Inv),
    ("diag", TensorFn::Diag),
    ("eye", TensorFn::Eye),
    ("ones", TensorFn::Ones),
    ("zeros", TensorFn::Zeros),
];

impl TensorFn {
    /// The function's name in the language.
    pub fn name(self) -> &'static str {
        TENSOR_NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }
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
    let mut i = 0;
    while i < TENSOR_NAMES.len() {
        table[TENSOR_NAMES[i].0.as_bytes()[0] as usize] = true;
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
    NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, b)| b)
        .or_else(|| {
            TENSOR_NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, f)| Builtin::Tensor(f))
        })
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
            Builtin::Tensor(TensorFn::Dot) => (2, Some(2)),
            Builtin::Tensor(TensorFn::Ones | TensorFn::Zeros) => (1, Some(2)),
            Builtin::Tensor(_) => (1, Some(1)),
        }
    }

    /// Whether it is a function of vectors and matrices (a call only with `(`).
    pub fn is_tensor(self) -> bool {
        matches!(self, Builtin::Tensor(_))
    }
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
