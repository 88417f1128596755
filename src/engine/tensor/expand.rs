//! Rebuilding a node over new children, and multiplying out products of sums (for
//! grading's proofs), through the constructors of `canon.rs`.

use super::{Mismatch, TId, TNode, TPool, TShape};

type R<T> = Result<T, Mismatch>;

/// The most terms one product may expand into.
const MAX_EXPANDED_TERMS: usize = 64;

impl TPool {
    /// `node` made again over new children `kids` (its constructor's rules applied).
    pub fn rebuild(&mut self, node: &TNode, kids: &[TId]) -> R<TId> {
        Ok(match node {
            TNode::Num(_)
            | TNode::Const(_)
            | TNode::Sym(_)
            | TNode::Eye(_)
            | TNode::Ones(_)
            | TNode::Zeros(_) => {
                // Leaves have no children: the node itself.
                let shape = match node {
                    TNode::Eye(d) => TShape::new(*d, *d),
                    TNode::Ones(s) | TNode::Zeros(s) => *s,
                    _ => TShape::SCALAR,
                };
                self.intern(node.clone(), shape)
            }
            TNode::Add(_) => self.add(kids)?,
            TNode::Mul(_) => self.mul(kids)?,
            TNode::Pow(_) => self.pow(kids[0], kids[1])?,
            TNode::MatMul(_) => self.matmul_chain(kids)?,
            TNode::Transpose(_) => self.transpose(kids[0])?,
            TNode::Call(f, _) => self.call(*f, kids)?,
            TNode::Sum(_) => self.sum(kids[0])?,
            TNode::Tr(_) => self.tr(kids[0])?,
            TNode::Det(_) => self.det(kids[0])?,
            TNode::Logdet(_) => self.logdet(kids[0])?,
            TNode::Inv(_) => self.inv(kids[0])?,
            TNode::Diag(_) | TNode::DiagOf(_) => self.diag(kids[0])?,
            TNode::Norm(_) => self.norm(kids[0])?,
            TNode::Norm1(_) => self.norm1(kids[0])?,
        })
    }

    /// `a` with its products of sums multiplied out (`(A + A')*x = A*x + A'*x`), as far
    /// as each product stays within a few dozen terms: for proofs of equality.
    pub fn expand(&mut self, a: TId) -> R<TId> {
        let reach = self.reachable(&[a]);
        let mut done: Vec<Option<TId>> = vec![None; a.index() + 1];
        for i in 0..=a.index() {
            if !reach[i] {
                continue;
            }
            let id = TId(i as u32);
            let node = self.node(id).clone();
            let kids: Vec<TId> = node
                .children()
                .iter()
                .map(|c| done[c.index()].unwrap_or(*c))
                .collect();
            let distributive = matches!(node, TNode::MatMul(_) | TNode::Mul(_));
            let result =
                if distributive && kids.iter().any(|&k| matches!(self.node(k), TNode::Add(_))) {
                    let mut products: Vec<Vec<TId>> = vec![Vec::new()];
                    for &k in &kids {
                        let terms = match self.node(k) {
                            TNode::Add(ts) => ts.clone(),
                            _ => vec![k],
                        };
                        if products.len() * terms.len() > MAX_EXPANDED_TERMS {
                            products.clear();
                            break;
                        }
                        products = products
                            .iter()
                            .flat_map(|p| {
                                terms.iter().map(move |&t| {
                                    let mut q = p.clone();
                                    q.push(t);
                                    q
                                })
                            })
                            .collect();
                    }
                    if products.is_empty() {
                        self.rebuild(&node, &kids)?
                    } else {
                        let mut terms = Vec::with_capacity(products.len());
                        for p in products {
                            terms.push(self.rebuild(&node, &p)?);
                        }
                        self.add(&terms)?
                    }
                } else if kids == node.children() {
                    id
                } else {
                    self.rebuild(&node, &kids)?
                };
            done[i] = Some(result);
        }
        Ok(done[a.index()].unwrap_or(a))
    }
}
