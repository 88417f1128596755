//! Expansion: products of sums multiplied out, for proofs that two spellings are equal.
//!
//! Canonical forms keep `2*x*(y - x^2)` and `(x + 1)^2` as products and powers (see
//! `canon.rs`), so `2*x*(y - x^2) - (2*x*y - 2*x^3)` is not 0 as it stands. Expanded, it
//! is. Expansion can grow a node exponentially, so it is bounded: a product is multiplied
//! out only while the result has at most `max_terms` terms, and the whole pass stops (and
//! gives back its root unchanged) once it has made `max_nodes` nodes.

use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;

use super::{ExprId, Node, Pool};

impl Pool {
    /// `root` with products of sums and small integer powers of sums multiplied out, each
    /// as long as the result has at most `max_terms` terms; `root` itself when that would
    /// make more than `max_nodes` new nodes. One loop over the reachable nodes, children
    /// first: no recursion.
    pub fn expand(&mut self, root: ExprId, max_terms: usize, max_nodes: usize) -> ExprId {
        let start = self.len();
        let mut map: HashMap<ExprId, ExprId> = HashMap::default();
        for id in self.reachable(&[root]) {
            let get = |c: &ExprId| map.get(c).copied().unwrap_or(*c);
            let new = match self.node(id) {
                Node::Num(_) | Node::Const(_) | Node::Sym(_) => id,
                Node::Add(terms) => {
                    let terms: SmallVec<[ExprId; 8]> = terms.iter().map(get).collect();
                    self.add(&terms)
                }
                Node::Mul(factors) => {
                    let factors: SmallVec<[ExprId; 8]> = factors.iter().map(get).collect();
                    self.multiply_out(&factors, max_terms)
                }
                Node::Pow([b, e]) => {
                    let (b, e) = (get(&b), get(&e));
                    let k = self.node(e).as_num().filter(|k| (2.0..=4.0).contains(k));
                    match (k, self.node(b)) {
                        (Some(k), Node::Add(_)) if k.fract() == 0.0 => {
                            let factors: SmallVec<[ExprId; 4]> =
                                (0..k as usize).map(|_| b).collect();
                            self.multiply_out(&factors, max_terms)
                        }
                        _ => self.pow(b, e),
                    }
                }
                Node::Call(f, args) => {
                    let args: SmallVec<[ExprId; 2]> = args.iter().map(get).collect();
                    self.call(f, &args)
                }
            };
            if self.len() - start > max_nodes {
                return root;
            }
            if new != id {
                map.insert(id, new);
            }
        }
        map.get(&root).copied().unwrap_or(root)
    }

    /// The product of `factors` with its sum factors multiplied out, while the number of
    /// terms stays at most `max_terms` (a sum factor that would pass it stays a factor).
    fn multiply_out(&mut self, factors: &[ExprId], max_terms: usize) -> ExprId {
        let mut terms: Vec<SmallVec<[ExprId; 4]>> = vec![SmallVec::new()];
        for &f in factors {
            match self.node(f) {
                Node::Add(ts) if terms.len().saturating_mul(ts.len()) <= max_terms => {
                    let ts: SmallVec<[ExprId; 8]> = SmallVec::from_slice(ts);
                    terms = terms
                        .iter()
                        .flat_map(|t| {
                            ts.iter().map(move |&x| {
                                let mut t = t.clone();
                                t.push(x);
                                t
                            })
                        })
                        .collect();
                }
                _ => terms.iter_mut().for_each(|t| t.push(f)),
            }
        }
        let products: Vec<ExprId> = terms.iter().map(|t| self.mul(t)).collect();
        self.add(&products)
    }
}
