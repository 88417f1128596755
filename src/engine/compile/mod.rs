//! Compilation: DAG roots into a straight-line [`Tape`].
//!
//! Four passes, all loops:
//! 1. **lower** every node the roots need, in id (topological) order, to instructions on
//!    virtual registers (a node that only a recognised shape uses, such as the
//!    `1 + exp(u)` of a sigmoid or the `-c*x` of a difference, is not lowered at all).
//!    Structurally equal nodes are one node already; the instructions that lowering
//!    invents (partial sums and products, `x*x` for `x^2`) are hash-consed too, so common subexpressions are computed once. Sums become chains
//!    of `+`/`-`, products chains of `*` with one `/` for the denominator. Long operand
//!    lists are folded in content-defined chunks, so two lists that differ in one operand
//!    (the partials of a long product) share all but a few instructions.
//!    Numerically delicate shapes are recognised here: `ln(1 + exp(u))` is `softplus(u)`,
//!    and `exp(u)^m / (1 + exp(u))^k` is `sigmoid(u)^m * sigmoid(-u)^(k-m)`, finite and
//!    accurate for every finite `u`. A sum folds its terms in order of the last input
//!    each depends on;
//! 2. **schedule** (`schedule.rs`): order the values by the last input they depend on, so
//!    that what a term of a function needs is computed, used and dropped together, and
//!    keep only what the outputs need;
//! 3. **fuse**: a multiplication used once, by an addition, a subtraction or another
//!    multiplication, joins it in one three-operand instruction (`a + b*c`, `a*b*c`,
//!    rounded as the two instructions were);
//! 4. **allocate slots**: inputs and constants get fixed slots; every other value
//!    takes a free slot and gives it back after its last use. An output is read out
//!    before its slot is written again, so a gradient's outputs do not hold slots.

use std::collections::hash_map::Entry;

use hashbrown::HashTable;
use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;

mod schedule;

use super::budget::{Budget, Exhausted};
use super::expr::{Constant, ExprId, Node, Pool};
use super::filing;
use super::func::Func;
use super::op::Op;
use super::tape::{InvalidTape, Tape};

/// A root depends on a symbol that is not among the compiled inputs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' has no value: it is not an input of the program")]
pub struct UnboundSymbol(pub String);

/// A virtual register: a value of the program before slot allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct VReg(u32);

/// The register of a node not lowered yet (half the memory of an `Option<VReg>`).
const UNLOWERED: VReg = VReg(u32::MAX);

/// Operand lists being folded: most are short.
type Regs = SmallVec<[VReg; 8]>;

/// What defines a virtual register.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Def {
    Input(u32),
    /// A number, by its index in `Lowering::numbers` (so a `Def` is 12 bytes, not 16).
    Const(u32),
    Instr(Op, VReg, VReg),
}

/// Why [`compile_within`] made no tape.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A root depends on a symbol that is not an input.
    #[error(transparent)]
    Unbound(#[from] UnboundSymbol),
    /// The budget's time ran out.
    #[error(transparent)]
    Exhausted(#[from] Exhausted),
    /// The program made breaks an invariant of a tape: a bug of the compiler, caught
    /// before anything runs it.
    #[error(transparent)]
    Invalid(#[from] InvalidTape),
}

/// Compiles `roots` into a tape whose inputs are the symbols `inputs`, in order.
pub fn compile(pool: &Pool, roots: &[ExprId], inputs: &[ExprId]) -> Result<Tape, CompileError> {
    compile_within(pool, roots, inputs, &Budget::default())
}

/// [`compile`], stopping with [`Exhausted::Time`] when the budget's time runs out.
pub fn compile_within(
    pool: &Pool,
    roots: &[ExprId],
    inputs: &[ExprId],
    budget: &Budget,
) -> Result<Tape, CompileError> {
    let mut l = Lowering {
        pool,
        defs: Vec::with_capacity(pool.len()),
        keys: Vec::with_capacity(pool.len()),
        cse: HashTable::with_capacity(pool.len()),
        filed: pool.len() >= filing::FILE_FROM,
        consts: HashMap::default(),
        numbers: Vec::new(),
        values: vec![UNLOWERED; pool.len()],
    };
    for (k, &input) in inputs.iter().enumerate() {
        let v = l.push(Def::Input(k as u32));
        l.values[input.index()] = v;
    }
    for (i, id) in demanded(pool, roots).into_iter().enumerate() {
        budget.check_every(i)?;
        if l.values[id.index()] != UNLOWERED {
            continue;
        }
        let v = l.lower(id)?;
        l.values[id.index()] = v;
    }
    let outputs: Vec<VReg> = roots.iter().map(|&r| l.value(r)).collect();
    Ok(schedule::allocate(
        &l.defs,
        &l.keys,
        &l.numbers,
        inputs.len(),
        &outputs,
    )?)
}

struct Lowering<'p> {
    pool: &'p Pool,
    defs: Vec<Def>,
    /// The key of each register: one more than the last input it depends on, 0 for none.
    /// Sums fold their terms, and instructions are scheduled, in key order (see
    /// `schedule`).
    keys: Vec<u32>,
    /// Hash-consing of instructions: the register of each, its `(op, a, b)` read from
    /// `defs` (four bytes an entry, not sixteen: a large table is written all over once
    /// per compile, and a quarter of the memory is a quarter of the cache lines to
    /// fetch), filed near its newest operand that is not a constant when the table is
    /// large (`engine::filing`).
    cse: HashTable<VReg>,
    /// Whether `cse` files by anchor: sized for the pool once, so decided once.
    filed: bool,
    consts: HashMap<u64, VReg>,
    /// The value of each `Def::Const`.
    numbers: Vec<f64>,
    /// The register of each lowered node, by node index (`UNLOWERED` before lowering).
    values: Vec<VReg>,
}

impl Lowering<'_> {
    fn push(&mut self, def: Def) -> VReg {
        let key = match def {
            Def::Input(k) => k + 1,
            Def::Const(_) => 0,
            Def::Instr(_, a, b) => self.keys[a.0 as usize].max(self.keys[b.0 as usize]),
        };
        self.keys.push(key);
        self.defs.push(def);
        VReg((self.defs.len() - 1) as u32)
    }

    fn emit(&mut self, op: Op, a: VReg, b: VReg) -> VReg {
        let key = if op.is_commutative() && b < a {
            (op, b, a)
        } else {
            (op, a, b)
        };
        // Most instructions lowering asks for exist already (the partials of a product
        // share all but a few): a plain probe first, an insertion only for a new one.
        let (defs, filed) = (&self.defs, self.filed);
        let hash = instr_hash(filed, defs, key);
        let def = Def::Instr(key.0, key.1, key.2);
        if let Some(&v) = self.cse.find(hash, |&v| defs[v.0 as usize] == def) {
            return v;
        }
        let v = self.push(def);
        let defs = &self.defs;
        self.cse
            .insert_unique(hash, v, |&v| match defs[v.0 as usize] {
                Def::Instr(op, a, b) => instr_hash(filed, defs, (op, a, b)),
                _ => 0, // the table holds instructions only
            });
        v
    }

    fn unary(&mut self, op: Op, a: VReg) -> VReg {
        self.emit(op, a, a)
    }

    /// Softplus or a sigmoid of `u` (`op` is one of the `...E` operations), sharing one
    /// `exp(-|u|)` between all of them. Of `-w` they are taken as the mirrored operation
    /// of `w`, so `sigmoid(w)` and `1/(1 + exp(-w))` share the exponential too.
    fn logistic(&mut self, op: Op, u: VReg) -> VReg {
        let (op, u) = match self.defs[u.0 as usize] {
            Def::Instr(Op::Neg, w, _) => (op.mirrored(), w),
            _ => (op, u),
        };
        let e = self.unary(Op::ExpNegAbs, u);
        self.emit(op, u, e)
    }

    fn constant(&mut self, v: f64) -> VReg {
        let next = VReg(self.defs.len() as u32);
        match self.consts.entry(v.to_bits()) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                e.insert(next);
                self.numbers.push(v);
                self.push(Def::Const((self.numbers.len() - 1) as u32))
            }
        }
    }

    /// The register of an already lowered node (children are lowered first).
    fn value(&self, id: ExprId) -> VReg {
        // What a node asks for is lowered before it (see `demanded`); the fallback only
        // keeps a bug from panicking in release builds.
        match self.values[id.index()] {
            UNLOWERED => {
                debug_assert!(false, "{id:?} asked for but not demanded");
                VReg(0)
            }
            v => v,
        }
    }

    fn lower(&mut self, id: ExprId) -> Result<VReg, UnboundSymbol> {
        let pool = self.pool;
        Ok(match pool.node(id) {
            Node::Num(_) => self.constant(pool.node(id).as_num().unwrap_or(f64::NAN)),
            Node::Const(c) => self.constant(c.value()),
            Node::Sym(s) => return Err(UnboundSymbol(pool.symbol_name(s).to_string())),
            Node::Add(terms) => self.sum(terms),
            Node::Mul(factors) => match pool.node(factors[0]).as_num() {
                Some(c) => self.product(c, &factors[1..]),
                None => self.product(1.0, factors),
            },
            Node::Pow([b, e]) => match pool.node(e).as_num() {
                // `1/(1 + exp(u))` is a sigmoid: the product lowering knows.
                Some(p) if p < 0.0 => self.product(1.0, &[id]),
                Some(p) => {
                    let bv = self.value(b);
                    self.numeric_power(bv, p)
                }
                None => {
                    let (bv, ev) = (self.value(b), self.value(e));
                    self.emit(Op::Powf, bv, ev)
                }
            },
            Node::Call(Func::Ln, args) => match one_plus_exp(pool, args[0]) {
                Some(u) => {
                    let u = self.value(u);
                    self.logistic(Op::SoftplusE, u)
                }
                None => {
                    let a = self.value(args[0]);
                    self.unary(Op::Ln, a)
                }
            },
            Node::Call(f @ (Func::Sigmoid | Func::Softplus), args) => {
                // Also `softplus(-w)`: see `logistic`.
                let a = self.value(args[0]);
                let op = if f == Func::Sigmoid {
                    Op::SigmoidE
                } else {
                    Op::SoftplusE
                };
                self.logistic(op, a)
            }
            Node::Call(f, args) => {
                let a = self.value(args[0]);
                let b = args.get(1).map_or(a, |&b| self.value(b));
                self.emit(Op::of(f), a, b)
            }
        })
    }

    /// `b ^ p` for a number `p >= 0`: `sqrt` for halves, multiplications for small
    /// integers, `powf` otherwise.
    fn numeric_power(&mut self, bv: VReg, p: f64) -> VReg {
        if p == 1.0 {
            bv
        } else if p == 0.5 {
            self.unary(Op::Sqrt, bv)
        } else if p.fract() == 0.0 && (2.0..=4.0).contains(&p) {
            // x^2, x^3 = x*x^2 and x^4 = (x^2)^2: a multiplication costs far less than
            // `powf` and rounds at most twice (the squares are shared by CSE).
            let sq = self.emit(Op::Mul, bv, bv);
            match p as u8 {
                2 => sq,
                3 => self.emit(Op::Mul, bv, sq),
                _ => self.emit(Op::Mul, sq, sq),
            }
        } else {
            let c = self.constant(p);
            self.emit(Op::Powf, bv, c)
        }
    }

    /// A sum: positive terms added, then terms with a negative coefficient subtracted.
    fn sum(&mut self, terms: &[ExprId]) -> VReg {
        let mut plus = Regs::with_capacity(terms.len());
        let mut minus = Regs::new();
        for &t in terms {
            match term(self.pool, t) {
                Term::Minus(c, factors) => minus.push(self.product(c, factors)),
                Term::Plus(t) => plus.push(self.value(t)),
            }
        }
        let pos = if plus.is_empty() {
            None
        } else {
            Some(self.fold(Op::Add, plus))
        };
        if minus.is_empty() {
            return pos.unwrap_or_else(|| self.constant(0.0));
        }
        let neg = self.fold(Op::Add, minus);
        match pos {
            Some(p) => self.emit(Op::Sub, p, neg),
            None => self.unary(Op::Neg, neg),
        }
    }

    /// `coeff * factors...`, with negative powers gathered into one denominator and the
    /// sigmoid shapes recognised.
    fn product(&mut self, coeff: f64, factors: &[ExprId]) -> VReg {
        let mut numer = Regs::with_capacity(factors.len() + 1);
        let mut denom = Regs::new();
        let pool = self.pool;
        for_each_part(pool, factors, |part| match part {
            Part::Factor(f) => numer.push(self.value(f)),
            Part::Denominator(b, p) => {
                let bv = self.value(b);
                denom.push(self.numeric_power(bv, p));
            }
            Part::Logistic { u, m, k } => {
                let uv = self.value(u);
                if m > 0.0 {
                    let s = self.logistic(Op::SigmoidE, uv);
                    numer.push(self.numeric_power(s, m.min(k)));
                }
                if m > k {
                    let e = self.unary(Op::Exp, uv);
                    numer.push(self.numeric_power(e, m - k));
                }
                if k > m {
                    let s = self.logistic(Op::SigmoidNegE, uv);
                    numer.push(self.numeric_power(s, k - m));
                }
            }
        });
        let negate = coeff < 0.0;
        let mag = coeff.abs();
        if mag != 1.0 || (numer.is_empty() && denom.is_empty()) {
            numer.push(self.constant(mag)); // first once folded: its key is 0
        }
        let mut result = match (numer.is_empty(), denom.is_empty()) {
            (_, true) => self.fold(Op::Mul, numer),
            (true, false) => {
                let d = self.fold(Op::Mul, denom);
                self.unary(Op::Recip, d)
            }
            (false, false) => {
                let n = self.fold(Op::Mul, numer);
                let d = self.fold(Op::Mul, denom);
                self.emit(Op::Div, n, d)
            }
        };
        if negate {
            result = self.unary(Op::Neg, result);
        }
        result
    }

    /// Folds a non-empty operand list with `op`. Lists longer than a few operands are
    /// folded in content-defined chunks: a chunk ends after an operand whose hash (with
    /// the level) says so. Removing one operand then changes only the chunks around it
    /// at each level, and instruction hash-consing shares the rest between lists.
    fn fold(&mut self, op: Op, mut xs: Regs) -> VReg {
        const SHORT: usize = 8;
        // A sum in key order, so that a partial sum is computed along with the terms it
        // takes in, not after all of them (see `schedule`): a function's value is a sum
        // over its terms. Products keep their canonical order: the partials of a long
        // product are many long lists, and sorting each would cost more than it saves.
        if op == Op::Add {
            xs.sort_unstable_by_key(|x| (self.keys[x.0 as usize], x.0));
        }
        let mut level: u64 = 0;
        while xs.len() > SHORT {
            let mut next = Regs::with_capacity(xs.len() / 2);
            let mut acc: Option<VReg> = None;
            for &x in &xs {
                let a = match acc {
                    None => x,
                    Some(a) => self.emit(op, a, x),
                };
                if chunk_ends(x, level) {
                    next.push(a);
                    acc = None;
                } else {
                    acc = Some(a);
                }
            }
            next.extend(acc);
            if next.len() == xs.len() {
                break; // no chunk grew (a freak of hashing): fold plainly below
            }
            xs = next;
            level += 1;
        }
        let mut it = xs.into_iter();
        let first = it.next().unwrap_or(VReg(0));
        it.fold(first, |a, x| self.emit(op, a, x))
    }
}

/// The nodes whose values compiling `roots` needs, in ascending (topological) order:
/// the roots and, below each, exactly what its lowering asks for. A recognised shape asks
/// for its parts, not for its spelling (`ln(1 + exp(u))` for `u` alone), and a term
/// `-c*x*y` of a sum for `x` and `y` (the sum subtracts `c*x*y`): the nodes only such
/// shapes use are never lowered. One loop over the ids downward: no recursion.
fn demanded(pool: &Pool, roots: &[ExprId]) -> Vec<ExprId> {
    pool.reachable_along(roots, |id, mark| {
        asks_for(pool, id, |c| mark[c.index()] = true);
    })
}

/// Calls `visit` with each node whose value `Lowering::lower(id)` asks for.
fn asks_for(pool: &Pool, id: ExprId, mut visit: impl FnMut(ExprId)) {
    let product = |factors: &[ExprId], visit: &mut dyn FnMut(ExprId)| {
        for_each_part(pool, factors, |part| match part {
            Part::Factor(f) => visit(f),
            Part::Denominator(b, _) => visit(b),
            Part::Logistic { u, .. } => visit(u),
        });
    };
    match pool.node(id) {
        Node::Num(_) | Node::Const(_) | Node::Sym(_) => {}
        Node::Add(terms) => {
            for &t in terms {
                match term(pool, t) {
                    Term::Minus(_, factors) => product(factors, &mut visit),
                    Term::Plus(t) => visit(t),
                }
            }
        }
        Node::Mul(factors) => match pool.node(factors[0]).as_num() {
            Some(_) => product(&factors[1..], &mut visit),
            None => product(factors, &mut visit),
        },
        Node::Pow([b, e]) => match pool.node(e).as_num() {
            Some(p) if p < 0.0 => product(&[id], &mut visit),
            Some(_) => visit(b),
            None => {
                visit(b);
                visit(e);
            }
        },
        Node::Call(Func::Ln, args) => visit(one_plus_exp(pool, args[0]).unwrap_or(args[0])),
        Node::Call(_, args) => {
            for &a in args.iter().take(2) {
                visit(a);
            }
        }
    }
}

/// A term of a sum as the sum lowering takes it.
enum Term<'a> {
    /// `-c * factors` with `c > 0`: subtracted.
    Minus(f64, &'a [ExprId]),
    /// Added.
    Plus(ExprId),
}

fn term(pool: &Pool, t: ExprId) -> Term<'_> {
    if let Node::Mul(fs) = pool.node(t) {
        if let Some(c) = pool.node(fs[0]).as_num().filter(|&c| c < 0.0) {
            return Term::Minus(-c, &fs[1..]);
        }
    }
    Term::Plus(t)
}

/// A factor of a product as the product lowering takes it.
#[derive(Clone, Copy)]
enum Part {
    /// Multiplied as it is.
    Factor(ExprId),
    /// `b^-p`: `b^p` in the denominator.
    Denominator(ExprId, f64),
    /// `exp(u)^m / (1 + exp(u))^k` (`m` may be 0): sigmoids of `u` and `-u`.
    Logistic { u: ExprId, m: f64, k: f64 },
}

/// Calls `visit` with the parts of the product of `factors`, in order: each sigmoid
/// denominator `(1 + exp(u))^-k` paired with a power of `exp(u)` among the other factors
/// if there is one, then negative powers as denominators and the rest as they are.
fn for_each_part(pool: &Pool, factors: &[ExprId], mut visit: impl FnMut(Part)) {
    // Most products have no sigmoid shape: look for its denominator before pairing.
    let sigmoids = factors
        .iter()
        .any(|&f| sigmoid_denominator(pool, f).is_some());
    let mut used: SmallVec<[bool; 8]> =
        SmallVec::from_elem(false, if sigmoids { factors.len() } else { 0 });
    for i in (0..factors.len()).filter(|_| sigmoids) {
        let Some((u, k)) = sigmoid_denominator(pool, factors[i]) else {
            continue;
        };
        used[i] = true;
        let mut m = 0.0;
        if let Some(j) = (0..factors.len())
            .find(|&j| !used[j] && exp_power(pool, factors[j]).is_some_and(|(v, _)| v == u))
        {
            used[j] = true;
            m = exp_power(pool, factors[j]).map_or(0.0, |(_, m)| m);
        }
        visit(Part::Logistic { u, m, k });
    }
    for (i, &f) in factors.iter().enumerate() {
        if sigmoids && used[i] {
            continue;
        }
        visit(match pool.node(f) {
            Node::Pow([b, e]) => match pool.node(e).as_num() {
                Some(p) if p < 0.0 => Part::Denominator(b, -p),
                _ => Part::Factor(f),
            },
            _ => Part::Factor(f),
        });
    }
}

/// Where the instruction table files `(op, a, b)`: uniformly, or (`filed`) near its
/// newest operand that is not a constant.
#[inline]
fn instr_hash(filed: bool, defs: &[Def], (op, a, b): (Op, VReg, VReg)) -> u64 {
    let own =
        ((u64::from(a.0) << 32 | u64::from(b.0)) ^ op as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let anchor = filed
        .then(|| {
            [a, b]
                .into_iter()
                .filter(|r| !matches!(defs[r.0 as usize], Def::Const(_)))
                .max()
        })
        .flatten();
    filing::hash((own >> 32) as u32, anchor.map(|r| r.0))
}

fn chunk_ends(x: VReg, level: u64) -> bool {
    let mut h = (u64::from(x.0) ^ level.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 29;
    h % 4 == 0
}

/// `u` when `id` is `exp(u)` or `e^u`.
fn as_exp(pool: &Pool, id: ExprId) -> Option<ExprId> {
    match pool.node(id) {
        Node::Call(Func::Exp, args) => Some(args[0]),
        Node::Pow([b, u]) if matches!(pool.node(b), Node::Const(Constant::E)) => Some(u),
        _ => None,
    }
}

/// `u` when `id` is `1 + exp(u)`.
fn one_plus_exp(pool: &Pool, id: ExprId) -> Option<ExprId> {
    match pool.node(id) {
        Node::Add(ts) if ts.len() == 2 => {
            let (one, other) = if pool.node(ts[0]).as_num() == Some(1.0) {
                (ts[0], ts[1])
            } else {
                (ts[1], ts[0])
            };
            (pool.node(one).as_num() == Some(1.0)).then_some(())?;
            as_exp(pool, other)
        }
        _ => None,
    }
}

/// `(u, k)` when `id` is `(1 + exp(u))^-k` for a positive integer `k`.
fn sigmoid_denominator(pool: &Pool, id: ExprId) -> Option<(ExprId, f64)> {
    let Node::Pow([b, e]) = pool.node(id) else {
        return None;
    };
    let k = -pool.node(e).as_num()?;
    (k > 0.0 && k.fract() == 0.0).then_some(())?;
    Some((one_plus_exp(pool, b)?, k))
}

/// `(u, m)` when `id` is `exp(u)^m` for a positive integer `m` (`m = 1` for `exp(u)`).
fn exp_power(pool: &Pool, id: ExprId) -> Option<(ExprId, f64)> {
    if let Some(u) = as_exp(pool, id) {
        return Some((u, 1.0));
    }
    let Node::Pow([b, e]) = pool.node(id) else {
        return None;
    };
    let m = pool.node(e).as_num()?;
    (m > 0.0 && m.fract() == 0.0).then_some(())?;
    Some((as_exp(pool, b)?, m))
}
