//! The pool: node storage, hash-consing, symbols and per-node facts.

use hashbrown::HashTable;
use rustc_hash::FxHashMap as HashMap;
use std::ops::Index;

use super::{Constant, ExprId, Node, Shape, SymbolId};

/// Facts about a node, computed once when it is interned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub shape: Shape,
    /// Structural hash: equal for equal structures in any pool, whatever the order they
    /// were built in. Sorts the operands of sums and products.
    pub hash: u64,
    /// Defined and finite for all finite values of its symbols (see `Func::is_entire`).
    pub entire: bool,
    /// Size of the node as a tree (shared subtrees counted every time), saturating.
    pub tree_size: u64,
    /// Whether any symbol occurs below (constants do not count).
    pub has_symbol: bool,
}

/// Owns the nodes of one or more expressions and their derivatives.
///
/// [`Pool::intern`] is the only way a node enters; the canonicalising constructors
/// (`num`, `add`, `mul`, `pow`, `call`, …) call it after normalising.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    nodes: Vec<Node>,
    meta: Vec<Meta>,
    /// Hash-consing: the ids of the nodes, hashed by their structural hash, so a node is
    /// stored once (in `nodes`) and growing the table rehashes nothing.
    index: HashTable<ExprId>,
    symbols: Vec<Box<str>>,
    symbol_index: HashMap<Box<str>, SymbolId>,
    /// The nodes of the numbers constructors ask for all the time (0, 1, -1, 2, 0.5), so
    /// asking costs an array lookup rather than a hash-consing probe.
    pub(crate) common: [Option<ExprId>; 5],
    /// Children stored by all nodes together: with the node count, the memory a pool
    /// holds (a product of k factors is one node but k operands).
    operands: usize,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The number of child references all nodes hold together.
    pub fn operands(&self) -> usize {
        self.operands
    }

    /// Whether the pool has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of `id`.
    pub fn node(&self, id: ExprId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The shape of `id`'s value.
    pub fn shape(&self, id: ExprId) -> Shape {
        self.meta[id.index()].shape
    }

    /// The structural hash of `id`: equal structures have equal hashes in every pool.
    pub fn hash(&self, id: ExprId) -> u64 {
        self.meta[id.index()].hash
    }

    /// The size of `id` written out as a tree, saturating at `u64::MAX`: what printing it
    /// would cost.
    pub fn tree_size(&self, id: ExprId) -> u64 {
        self.meta[id.index()].tree_size
    }

    pub(crate) fn meta(&self, id: ExprId) -> &Meta {
        &self.meta[id.index()]
    }

    /// The name of a symbol.
    pub fn symbol_name(&self, s: SymbolId) -> &str {
        &self.symbols[s.0 as usize]
    }

    /// The symbol node named `name`, if the pool has one.
    pub fn find_symbol(&self, name: &str) -> Option<ExprId> {
        let s = *self.symbol_index.get(name)?;
        self.lookup(&Node::Sym(s), self.compute_meta(&Node::Sym(s)).hash)
    }

    /// The symbol node named `name`, made if new.
    pub fn sym(&mut self, name: &str) -> ExprId {
        let s = match self.symbol_index.get(name) {
            Some(&s) => s,
            None => {
                let s = SymbolId(self.symbols.len() as u32);
                self.symbols.push(name.into());
                self.symbol_index.insert(name.into(), s);
                s
            }
        };
        self.intern(Node::Sym(s))
    }

    /// The names of the symbols that `roots` depend on, sorted by byte order.
    pub fn free_symbols(&self, roots: &[ExprId]) -> Vec<String> {
        let mut names: Vec<String> = self
            .reachable(roots)
            .into_iter()
            .filter_map(|id| match self.node(id) {
                Node::Sym(s) => Some(self.symbol_name(*s).to_string()),
                _ => None,
            })
            .collect();
        names.sort();
        names
    }

    /// Every node reachable from `roots`, in ascending (topological) order. A loop over
    /// the ids downward: no recursion.
    pub fn reachable(&self, roots: &[ExprId]) -> Vec<ExprId> {
        let Some(top) = roots.iter().max() else {
            return Vec::new();
        };
        let mut mark = vec![false; top.index() + 1];
        for r in roots {
            mark[r.index()] = true;
        }
        for i in (0..mark.len()).rev() {
            if mark[i] {
                for c in self.nodes[i].children() {
                    mark[c.index()] = true;
                }
            }
        }
        mark.iter()
            .enumerate()
            .filter(|(_, &m)| m)
            .map(|(i, _)| ExprId(i as u32))
            .collect()
    }

    /// Adds `node` unless an equal node exists; returns its id. Callers make `node`
    /// canonical first: this only hash-conses.
    pub(crate) fn intern(&mut self, node: Node) -> ExprId {
        let meta = self.compute_meta(&node);
        if let Some(id) = self.lookup(&node, meta.hash) {
            return id;
        }
        let id = ExprId(self.nodes.len() as u32);
        debug_assert!(
            node.children().iter().all(|c| *c < id),
            "children come before parents"
        );
        debug_assert!(node.as_num().is_none_or(|v| !v.is_nan()), "no NaN numbers");
        self.operands += node.children().len();
        self.nodes.push(node);
        self.meta.push(meta);
        let metas = &self.meta;
        self.index
            .insert_unique(meta.hash, id, |&other| metas[other.index()].hash);
        id
    }

    fn lookup(&self, node: &Node, hash: u64) -> Option<ExprId> {
        self.index
            .find(hash, |&id| self.nodes[id.index()] == *node)
            .copied()
    }

    fn compute_meta(&self, node: &Node) -> Meta {
        let kids = node.children();
        let mut hash = mix(FNV_OFFSET, tag(node));
        let mut entire = kids.iter().all(|c| self.meta[c.index()].entire);
        let mut has_symbol = false;
        let mut tree_size: u64 = 1;
        match node {
            Node::Num(bits) => {
                hash = mix(hash, *bits);
                entire = f64::from_bits(*bits).is_finite();
            }
            Node::Const(c) => hash = mix(hash, *c as u64),
            Node::Sym(s) => {
                hash = mix(hash, fnv(self.symbol_name(*s).as_bytes()));
                has_symbol = true;
            }
            Node::Pow([_, e]) => {
                let nonneg_int = self.nodes[e.index()]
                    .as_num()
                    .is_some_and(|v| v >= 0.0 && v.fract() == 0.0);
                entire &= nonneg_int;
            }
            Node::Call(f, _) => {
                hash = mix(hash, *f as u64);
                entire &= f.is_entire();
            }
            Node::Add(_) | Node::Mul(_) => {}
        }
        for c in kids {
            let m = &self.meta[c.index()];
            hash = mix(hash, m.hash);
            has_symbol |= m.has_symbol;
            tree_size = tree_size.saturating_add(m.tree_size);
        }
        Meta {
            shape: Shape::Scalar,
            hash: fmix(hash),
            entire,
            tree_size,
            has_symbol,
        }
    }

    /// The node for a named constant.
    pub fn constant(&mut self, c: Constant) -> ExprId {
        self.intern(Node::Const(c))
    }
}

impl Index<ExprId> for Pool {
    type Output = Node;
    fn index(&self, id: ExprId) -> &Node {
        self.node(id)
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn tag(node: &Node) -> u64 {
    match node {
        Node::Num(_) => 1,
        Node::Const(_) => 2,
        Node::Sym(_) => 3,
        Node::Add(_) => 4,
        Node::Mul(_) => 5,
        Node::Pow(_) => 6,
        Node::Call(..) => 7,
    }
}

fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// MurmurHash3's 64-bit finaliser: spreads the bits so sorting by hash is well mixed.
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
