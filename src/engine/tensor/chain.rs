//! The order a chain of matrix products is multiplied in: parts already evaluated are
//! read, and the rest is ordered by dynamic programming over the shapes.

use super::eval::{concrete, ChainStep, Factor, PlanError};
use super::{TId, TNode, TPool};

/// The products of contiguous parts of a chain that the pool holds as nodes.
pub(super) fn sub_chains(pool: &TPool, fs: &[TId]) -> Vec<TId> {
    let mut out = Vec::new();
    // Chains are short; a long one is not searched (its parts would be many).
    if fs.len() > 12 {
        return out;
    }
    for len in (2..fs.len()).rev() {
        for i in 0..=fs.len() - len {
            if let Some(id) = pool.find(&TNode::MatMul(fs[i..i + len].to_vec())) {
                out.push(id);
            }
        }
    }
    out
}

/// The order to multiply a chain in (by dynamic programming over its shapes, for up to
/// 24 factors; a longer chain goes left to right), as steps on a stack, with its cost.
pub(super) fn chain_order(
    pool: &TPool,
    fs: &[TId],
    position: &[usize],
) -> Result<(Vec<ChainStep>, u128), PlanError> {
    // Parts already evaluated (see `Plan::new`) are read: longest first.
    let mut fs = fs.to_vec();
    let mut len = fs.len().saturating_sub(1);
    while len >= 2 {
        let mut i = 0;
        while i + len <= fs.len() {
            let part = TNode::MatMul(fs[i..i + len].to_vec());
            match pool.find(&part) {
                Some(id) if position.get(id.index()).is_some_and(|&p| p != usize::MAX) => {
                    fs.splice(i..i + len, [id]);
                }
                _ => i += 1,
            }
        }
        len -= 1;
    }
    let fs = &fs[..];
    let mut factors = Vec::with_capacity(fs.len());
    let mut dims = Vec::with_capacity(fs.len());
    let mut diagonal = Vec::with_capacity(fs.len());
    for &f in fs {
        let (r, c) = concrete(pool.shape(f)).ok_or(PlanError::Symbolic)?;
        dims.push((r as u128, c as u128));
        let (factor, is_diag) = match pool.node(f) {
            TNode::Transpose(x) if position[f.index()] == usize::MAX => {
                (Factor::Transposed(position[x.index()]), false)
            }
            TNode::Diag(v) if position[f.index()] == usize::MAX => {
                (Factor::Diagonal(position[v.index()]), true)
            }
            _ => (Factor::Value(position[f.index()]), false),
        };
        factors.push(factor);
        diagonal.push(is_diag);
    }
    let k = factors.len();
    if k > 24 {
        let mut steps = vec![ChainStep::Push(factors[0])];
        let mut cost = 0u128;
        let mut cols = dims[0].1;
        for j in 1..k {
            steps.push(ChainStep::Push(factors[j]));
            steps.push(ChainStep::Multiply);
            cost += 2 * dims[0].0 * cols * dims[j].1;
            cols = dims[j].1;
        }
        return Ok((steps, cost));
    }
    // best[i][j]: (cost, split, is the product diagonal) of factors i..=j.
    let mut best = vec![vec![(0u128, 0usize, false); k]; k];
    for (i, &d) in diagonal.iter().enumerate() {
        best[i][i] = (0, i, d);
    }
    for len in 2..=k {
        for i in 0..=k - len {
            let j = i + len - 1;
            let mut choice = (u128::MAX, i, false);
            for s in i..j {
                let (lc, _, ld) = best[i][s];
                let (rc, _, rd) = best[s + 1][j];
                let (r, m, c) = (dims[i].0, dims[s].1, dims[j].1);
                let here = match (ld, rd) {
                    (true, true) => r,
                    (true, false) | (false, true) => r * c,
                    (false, false) => 2 * r * m * c,
                };
                let total = lc.saturating_add(rc).saturating_add(here);
                if total < choice.0 {
                    choice = (total, s, ld && rd);
                }
            }
            best[i][j] = choice;
        }
    }
    // The steps, in post-order of the splits (an explicit stack, no recursion).
    let mut steps = Vec::with_capacity(2 * k);
    let mut todo = vec![(0usize, k - 1, false)];
    while let Some((i, j, expanded)) = todo.pop() {
        if i == j {
            steps.push(ChainStep::Push(factors[i]));
        } else if expanded {
            steps.push(ChainStep::Multiply);
        } else {
            let s = best[i][j].1;
            todo.push((i, j, true));
            todo.push((s + 1, j, false));
            todo.push((i, s, false));
        }
    }
    Ok((steps, best[0][k - 1].0))
}
