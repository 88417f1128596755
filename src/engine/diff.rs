//! Differentiation: every derivative rule, and reverse mode over the DAG.
//!
//! [`gradient`] makes one backward sweep from a root: each node's adjoint (the derivative
//! of the root with respect to that node) is the sum of its parents' contributions, and
//! each node passes `adjoint * ∂node/∂child` to its children. The nodes are visited in
//! descending id order, which is reverse topological order, so the sweep is a loop and
//! every partial is a shared node of the same pool: the gradient costs a small constant
//! times the function, whatever the number of variables.
//!
//! `partials` holds all the rules. Non-smooth functions take the derivative defined
//! almost everywhere: `abs' = sign`, `floor' = ceil' = round' = trunc' = sign' = signum'
//! = 0`, `max` and `min` follow the argument they select (the first one on a tie),
//! `(a % b)' = (1, -trunc(a/b))`.

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
use std::sync::OnceLock;

pub use super::budget::{Budget, Exhausted};
use super::expr::{Constant, ExprId, Node, Pool, Scope};
use super::func::Func;
use super::parse::ParseOptions;

/// The gradient of `root` with respect to `wrt` (symbol nodes; any other node is treated
/// as an independent input too). Fails when the pool grows past the budget's nodes (or
/// eight times as many operands), or its time runs out.
pub fn gradient(
    pool: &mut Pool,
    root: ExprId,
    wrt: &[ExprId],
    budget: impl Into<Budget>,
) -> Result<Vec<ExprId>, Exhausted> {
    let budget = budget.into();
    let max_nodes = budget.max_nodes;
    let zero = pool.num(0.0);
    let mut grads = vec![zero; wrt.len()];
    let inputs: HashMap<ExprId, usize> = wrt.iter().enumerate().map(|(i, &v)| (v, i)).collect();
    let order = pool.reachable(&[root]);
    // A gradient makes about as many new nodes as the function has (the cheap-gradient
    // principle): make room once.
    pool.reserve(order.len());
    // depends[i]: whether node i depends on an input (`INPUT`: is one); only those get
    // adjoints. An input's index is looked up only for an input.
    let mut depends = vec![NO; root.index() + 1];
    for v in wrt.iter().filter(|v| **v <= root) {
        depends[v.index()] = INPUT;
    }
    for &id in &order {
        if depends[id.index()] == NO && pool.children(id).iter().any(|c| depends[c.index()] != NO) {
            depends[id.index()] = YES;
        }
    }
    // The contributions to each node's adjoint, as linked lists in one vector: `head[i]`
    // is the newest contribution to node i, `links[k].1` the one before it.
    const END: u32 = u32::MAX;
    let mut head = vec![END; root.index() + 1];
    let mut links: Vec<(ExprId, u32)> = Vec::with_capacity(order.len() * 2);
    links.push((pool.num(1.0), END));
    head[root.index()] = 0;
    let mut parts: Vec<ExprId> = Vec::new();
    let mut rules: Vec<(ExprId, Partial)> = Vec::new();
    for (i, &id) in order.iter().rev().enumerate() {
        budget.check_every(i)?;
        if depends[id.index()] == NO {
            continue;
        }
        parts.clear();
        let mut k = head[id.index()];
        while k != END {
            parts.push(links[k as usize].0);
            k = links[k as usize].1;
        }
        if parts.is_empty() {
            continue;
        }
        parts.reverse(); // in the order they came
        let adjoint = pool.add(&parts);
        if depends[id.index()] == INPUT {
            if let Some(&k) = inputs.get(&id) {
                grads[k] = adjoint;
            }
            continue;
        }
        if let Node::Mul(factors) = pool.node(id) {
            // The partials of a product of k factors hold k*(k-1) operands in all: bound
            // them before making them (x1*...*x100000 must fail, not fill memory).
            let k = factors.len();
            if k.saturating_mul(k) > max_nodes.saturating_mul(8) {
                return Err(Exhausted::Nodes { limit: max_nodes });
            }
        }
        partials(pool, id, &depends, &mut rules);
        for (child, partial) in rules.drain(..) {
            let contribution = chain(pool, adjoint, &partial);
            links.push((contribution, head[child.index()]));
            head[child.index()] = (links.len() - 1) as u32;
        }
        if over_budget(pool, max_nodes) {
            return Err(Exhausted::Nodes { limit: max_nodes });
        }
    }
    Ok(grads)
}

/// What `gradient` knows of a node: it does not depend on an input, it does, it is one.
const NO: u8 = 0;
const YES: u8 = 1;
const INPUT: u8 = 2;

/// Whether the pool holds more than `max_nodes` nodes, or more than eight operands per
/// allowed node (long products are few nodes but many operands).
fn over_budget(pool: &Pool, max_nodes: usize) -> bool {
    pool.len() > max_nodes || pool.operands() > max_nodes.saturating_mul(8)
}

/// The Jacobian of `roots` with respect to `wrt`: row `i` is the gradient of `roots[i]`.
pub fn jacobian(
    pool: &mut Pool,
    roots: &[ExprId],
    wrt: &[ExprId],
    budget: impl Into<Budget>,
) -> Result<Vec<Vec<ExprId>>, Exhausted> {
    let budget = budget.into();
    roots
        .iter()
        .map(|&r| gradient(pool, r, wrt, budget.clone()))
        .collect()
}

/// The gradient and the Hessian of `root` (reverse over reverse: the Jacobian of the
/// symbolic gradient). The Hessian is made exactly symmetric by mirroring the upper
/// triangle.
pub fn hessian(
    pool: &mut Pool,
    root: ExprId,
    wrt: &[ExprId],
    budget: impl Into<Budget>,
) -> Result<(Vec<ExprId>, Vec<Vec<ExprId>>), Exhausted> {
    let budget = budget.into();
    let grad = gradient(pool, root, wrt, budget.clone())?;
    let mut rows = jacobian(pool, &grad, wrt, budget)?;
    let upper: Vec<Vec<ExprId>> = rows.clone();
    for (i, row) in rows.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate().take(i) {
            *entry = upper[j][i];
        }
    }
    Ok((grad, rows))
}

/// Sums with at most this many terms are multiplied out by [`chain`].
const DISTRIBUTE_MAX_TERMS: usize = 4;

/// `adjoint * partial`. A short sum is multiplied out term by term: the gradient of
/// `0.5*x^2 - ln(1 + exp(u))` reads `x - 2*x*...*exp(u)/(1 + exp(u))` rather than
/// `2*x*(0.5 - ...)`, and `exp(u)` meets the `1/(1 + exp(u))` of each term in one
/// product, where the compiler recognises a sigmoid (finite at u = 800, where
/// `exp(u)*(...)` is `inf*0`). The bound keeps the expansion linear.
fn chain(pool: &mut Pool, adjoint: ExprId, partial: &[ExprId]) -> ExprId {
    if partial.is_empty() {
        return adjoint;
    }
    let mut factors: SmallVec<[ExprId; 4]> = SmallVec::new();
    factors.push(adjoint);
    factors.extend_from_slice(partial);
    if pool.node(adjoint).as_num() == Some(1.0) {
        return pool.mul(&factors[1..]);
    }
    match pool.node(adjoint) {
        Node::Add(terms) if terms.len() <= DISTRIBUTE_MAX_TERMS => {
            let terms: SmallVec<[ExprId; DISTRIBUTE_MAX_TERMS]> = SmallVec::from_slice(terms);
            let products: SmallVec<[ExprId; DISTRIBUTE_MAX_TERMS]> = terms
                .iter()
                .map(|&t| {
                    factors[0] = t;
                    pool.mul(&factors)
                })
                .collect();
            pool.add(&products)
        }
        _ => pool.mul(&factors),
    }
}

/// A partial derivative as the factors of a product (none: the partial is 1), so that
/// the chain rule multiplies the adjoint in with one canonicalisation and leaves no
/// intermediate product behind.
type Partial = SmallVec<[ExprId; 2]>;

/// Products of at most this many factors pass their partials as factor lists; longer
/// ones as one node, copied by `Pool::without_factor` (linear in the factors).
const PARTIAL_FACTORS_MAX: usize = 3;

/// The partial derivatives `∂node/∂child` of node `id` for each child that depends on an
/// input, into `out`. All derivative rules live here.
fn partials(pool: &mut Pool, id: ExprId, depends: &[u8], out: &mut Vec<(ExprId, Partial)>) {
    let dep = |c: &ExprId| depends[c.index()] != NO;
    match pool.node(id) {
        Node::Num(_) | Node::Const(_) | Node::Sym(_) => {}
        Node::Add(terms) => {
            for t in terms.iter().filter(|t| dep(t)) {
                out.push((*t, Partial::new()));
            }
        }
        Node::Mul(factors) if factors.len() <= PARTIAL_FACTORS_MAX => {
            for (i, f) in factors.iter().enumerate().filter(|(_, f)| dep(f)) {
                let others = factors.iter().enumerate().filter(|&(j, _)| j != i);
                out.push((*f, others.map(|(_, &g)| g).collect()));
            }
        }
        Node::Mul(factors) => {
            let wanted: Vec<(usize, ExprId)> = factors
                .iter()
                .enumerate()
                .filter(|(_, f)| dep(f))
                .map(|(i, &f)| (i, f))
                .collect();
            for (i, f) in wanted {
                out.push((f, Partial::from_slice(&[pool.without_factor(id, i)])));
            }
        }
        Node::Pow([base, exponent]) => {
            if dep(&base) {
                // d/db b^e = e * b^(e-1)
                let e_minus_one = match pool.node(exponent).as_num() {
                    Some(e) => {
                        let v = pool.num_add(e, -1.0);
                        pool.num(v)
                    }
                    None => {
                        let minus_one = pool.num(-1.0);
                        pool.add(&[exponent, minus_one])
                    }
                };
                let p = pool.pow(base, e_minus_one);
                out.push((base, Partial::from_slice(&[exponent, p])));
            }
            // d/de b^e = b^e * ln(b); for b = 0 the power is constant (0, or inf for
            // e < 0) and the derivative is 0, not 0*ln(0) = NaN.
            if dep(&exponent) && pool.node(base).as_num() != Some(0.0) {
                let ln_b = pool.call(Func::Ln, &[base]);
                out.push((exponent, Partial::from_slice(&[id, ln_b])));
            }
        }
        Node::Call(f, args) => {
            let args: SmallVec<[ExprId; 2]> = SmallVec::from_slice(args);
            for (k, a) in args.iter().enumerate().filter(|(_, a)| dep(a)) {
                if let Some(d) = call_partial(pool, f, &args, k) {
                    out.push((*a, Partial::from_slice(&[d])));
                }
            }
        }
    }
}

/// `∂f(args)/∂args[k]` as a node, or `None` where it is 0 almost everywhere: the
/// function's derivative from the table (`Func::derivative`), instantiated at `args`.
fn call_partial(pool: &mut Pool, f: Func, args: &[ExprId], k: usize) -> Option<ExprId> {
    recipes()
        .get(f as usize)?
        .get(k)?
        .as_ref()?
        .instantiate(pool, args)
}

/// Every function's derivatives as recipes, indexed by function (its discriminant) and
/// argument; `None` for a derivative that is 0. Made from the table once.
fn recipes() -> &'static [Vec<Option<Recipe>>] {
    static RECIPES: OnceLock<Vec<Vec<Option<Recipe>>>> = OnceLock::new();
    RECIPES.get_or_init(|| {
        let mut recipes: Vec<Vec<Option<Recipe>>> = Func::ALL.iter().map(|_| Vec::new()).collect();
        for &f in Func::ALL {
            if let Some(r) = recipes.get_mut(f as usize) {
                *r = f.derivative().iter().map(|src| Recipe::new(src)).collect();
            }
        }
        recipes
    })
}

/// One step of a [`Recipe`]: a node made from the results of earlier steps.
#[derive(Debug)]
enum Step {
    Num(f64),
    Const(Constant),
    /// The call's argument `k` (`a` or `b` in the table).
    Arg(usize),
    Add(Vec<usize>),
    Mul(Vec<usize>),
    Pow(usize, usize),
    Call(Func, Vec<usize>),
}

/// A derivative of the table, canonicalised once over the symbols `a` and `b` and kept as
/// the steps that rebuild it: instantiating it replays the canonicalising constructors on
/// the call's arguments, so the result is the node the rule written out by hand made.
#[derive(Debug)]
struct Recipe {
    steps: Vec<Step>,
}

impl Recipe {
    /// The recipe of `src` (`None` for `0`, or for text that does not read, which the
    /// table's tests rule out).
    fn new(src: &str) -> Option<Recipe> {
        let mut pool = Pool::new();
        let names = ["a".to_string(), "b".to_string()];
        let scope = Scope {
            bound: &names,
            closed: true,
        };
        let root = super::read(&mut pool, src, scope, &ParseOptions::default()).ok()?;
        if pool.node(root).as_num() == Some(0.0) {
            return None;
        }
        let (a, b) = (pool.sym("a"), pool.sym("b"));
        let order = pool.reachable(&[root]);
        let mut index: HashMap<ExprId, usize> = HashMap::default();
        let mut steps = Vec::with_capacity(order.len());
        for id in order {
            let at = |c: &ExprId| index.get(c).copied();
            let all = |cs: &[ExprId]| cs.iter().map(at).collect::<Option<Vec<usize>>>();
            let step = match pool.node(id) {
                Node::Num(_) => Step::Num(pool.node(id).as_num()?),
                Node::Const(c) => Step::Const(c),
                Node::Sym(_) if id == a => Step::Arg(0),
                Node::Sym(_) if id == b => Step::Arg(1),
                Node::Sym(_) => return None,
                Node::Add(ts) => Step::Add(all(ts)?),
                Node::Mul(fs) => Step::Mul(all(fs)?),
                Node::Pow([x, e]) => Step::Pow(at(&x)?, at(&e)?),
                Node::Call(f, xs) => Step::Call(f, all(xs)?),
            };
            index.insert(id, steps.len());
            steps.push(step);
        }
        Some(Recipe { steps })
    }

    /// The derivative at `args`, in `pool` (`None` without arguments).
    fn instantiate(&self, pool: &mut Pool, args: &[ExprId]) -> Option<ExprId> {
        let mut made: SmallVec<[ExprId; 16]> = SmallVec::with_capacity(self.steps.len());
        let mut operands: SmallVec<[ExprId; 4]> = SmallVec::new();
        for step in &self.steps {
            let mut gather = |ks: &[usize], made: &[ExprId]| {
                operands.clear();
                operands.extend(ks.iter().map(|&k| made[k]));
            };
            let id = match step {
                Step::Num(v) => pool.num(*v),
                Step::Const(c) => pool.constant(*c),
                // A recipe names `b` only for a binary function.
                Step::Arg(k) => *args.get(*k).or(args.last())?,
                Step::Add(ks) => {
                    gather(ks, &made);
                    pool.add(&operands)
                }
                Step::Mul(ks) => {
                    gather(ks, &made);
                    pool.mul(&operands)
                }
                Step::Pow(x, e) => pool.pow(made[*x], made[*e]),
                Step::Call(f, ks) => {
                    gather(ks, &made);
                    pool.call(*f, &operands)
                }
            };
            made.push(id);
        }
        // The root is made last.
        made.last().copied()
    }
}
