//! The pool: node storage, hash-consing, symbols and per-node facts.

use hashbrown::HashTable;
use rustc_hash::FxHashMap as HashMap;

use super::{Constant, ExprId, Node, Shape, SymbolId};
use crate::engine::filing;
use crate::engine::func::Func;

/// A node as the pool stores it: 12 bytes, no pointer. What `ab` holds depends on the
/// kind: a number's bits (low half, high half), a symbol's id (first), a power's base and
/// exponent, or the start and length of an operand list in `Pool::operands`.
#[derive(Clone, Copy, Debug)]
struct Stored {
    kind: Kind,
    ab: [ExprId; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Num,
    Const(Constant),
    Sym,
    Add,
    Mul,
    Pow,
    Call(Func),
}

/// Facts about a node, computed once when it is interned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub shape: Shape,
    /// Structural hash: equal for equal structures in any pool, whatever the order they
    /// were built in. Sorts the operands of sums and products.
    pub hash: u64,
    /// Defined and finite for all finite values of its symbols (see `Func::is_entire`).
    pub entire: bool,
    /// Size of the node as a tree (shared subtrees counted every time), saturating at
    /// `u32::MAX` (far past every limit that reads it), so a `Meta` is 16 bytes.
    pub tree_size: u32,
    /// Whether any symbol occurs below (constants do not count).
    pub has_symbol: bool,
    /// What is known of its sign wherever it is defined (see `expr::sign`).
    pub sign: super::sign::Sign,
}

const _: () = assert!(std::mem::size_of::<Meta>() == 16);

/// Owns the nodes of one or more expressions and their derivatives.
///
/// `Pool::intern` is the only way a node enters; the canonicalising constructors
/// (`num`, `add`, `mul`, `pow`, `call`, …) call it after normalising.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    nodes: Vec<Stored>,
    /// The operand lists of sums, products and calls, one after another.
    operands: Vec<ExprId>,
    meta: Vec<Meta>,
    /// Hash-consing: the ids of the nodes, so a node is stored once (in `nodes`); a probe
    /// compares the nodes whose tags (seven bits of the hash, beside the table) agree.
    /// Four bytes an entry: a large table is written all over as a large expression is
    /// read, and every cache line of it fetched for that costs. Filed near their newest
    /// child once it is large (`engine::filing`).
    index: HashTable<ExprId>,
    /// Whether `index` files by anchor (it has grown past `filing::FILE_FROM`).
    filed: bool,
    symbols: Vec<Box<str>>,
    symbol_index: HashMap<Box<str>, SymbolId>,
    /// The node of each symbol, by symbol id.
    symbol_nodes: Vec<ExprId>,
    /// The nodes of numbers asked for lately, by a few bits of their hash: constructors
    /// ask for the same few numbers all the time (0, 1, -1, 2, a function's coefficients),
    /// and a hit costs an array lookup rather than a hash-consing probe.
    pub(crate) recent_nums: [Option<(u64, ExprId)>; 16],
    /// Children held by all nodes together: with the node count, the memory a pool
    /// holds (a product of k factors is one node but k operands).
    child_count: usize,
    /// The exact rational each number stands for, by its bits, where it is not a small
    /// dyadic (those are exact by their bits alone): see `expr::exact`.
    pub(crate) exact: HashMap<u64, super::exact::Rational>,
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// Makes room for `nodes` more nodes (with two operands each on average), so a pool
    /// that is about to grow a lot grows without copying itself over and over.
    pub fn reserve(&mut self, nodes: usize) {
        self.nodes.reserve(nodes);
        self.meta.reserve(nodes);
        self.operands.reserve(2 * nodes);
        self.reserve_index(nodes);
    }

    /// Makes room in the hash-consing table for `more` entries; a table growing past
    /// `filing::FILE_FROM` switches to filing by anchor (growing rehashes every entry).
    fn reserve_index(&mut self, more: usize) {
        let grows = self.index.len() + more > self.index.capacity();
        if grows && self.index.len() + more >= filing::FILE_FROM {
            self.filed = true;
        }
        let rehash = stored_hash(&self.nodes, &self.operands, &self.meta, self.filed);
        self.index.reserve(more, rehash);
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The number of child references all nodes hold together.
    pub fn operands(&self) -> usize {
        self.child_count
    }

    /// Whether the pool has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node of `id`.
    #[inline]
    pub fn node(&self, id: ExprId) -> Node<'_> {
        let Stored { kind, ab: [a, b] } = self.nodes[id.index()];
        match kind {
            Kind::Num => Node::Num(u64::from(a.0) | u64::from(b.0) << 32),
            Kind::Const(c) => Node::Const(c),
            Kind::Sym => Node::Sym(SymbolId(a.0)),
            Kind::Add => Node::Add(list(&self.operands, a, b)),
            Kind::Mul => Node::Mul(list(&self.operands, a, b)),
            Kind::Pow => Node::Pow([a, b]),
            Kind::Call(f) => Node::Call(f, list(&self.operands, a, b)),
        }
    }

    /// The children of `id`, in order.
    #[inline]
    pub fn children(&self, id: ExprId) -> &[ExprId] {
        stored_children(&self.nodes, &self.operands, id)
    }

    /// The shape of `id`'s value.
    pub fn shape(&self, id: ExprId) -> Shape {
        self.meta[id.index()].shape
    }

    /// The structural hash of `id`: equal structures have equal hashes in every pool.
    #[inline]
    pub fn hash(&self, id: ExprId) -> u64 {
        self.meta[id.index()].hash
    }

    /// The size of `id` written out as a tree, saturating at `u32::MAX`: what printing it
    /// would cost.
    pub fn tree_size(&self, id: ExprId) -> u64 {
        u64::from(self.meta[id.index()].tree_size)
    }

    #[inline]
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
        Some(self.symbol_nodes[s.0 as usize])
    }

    /// The symbol node named `name`, made if new.
    pub fn sym(&mut self, name: &str) -> ExprId {
        if let Some(&s) = self.symbol_index.get(name) {
            return self.symbol_nodes[s.0 as usize];
        }
        let s = SymbolId(self.symbols.len() as u32);
        self.symbols.push(name.into());
        self.symbol_index.insert(name.into(), s);
        let id = self.intern(Node::Sym(s));
        self.symbol_nodes.push(id);
        id
    }

    /// The names of every symbol of the pool, as made (by lowering: every name an
    /// expression wrote, whether or not its canonical form still uses it), sorted by byte
    /// order.
    pub fn symbol_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.symbols.iter().map(|s| s.to_string()).collect();
        names.sort();
        names
    }

    /// The names of the symbols that `roots` depend on, sorted by byte order.
    pub fn free_symbols(&self, roots: &[ExprId]) -> Vec<String> {
        let mut names: Vec<String> = self
            .reachable(roots)
            .into_iter()
            .filter_map(|id| match self.node(id) {
                Node::Sym(s) => Some(self.symbol_name(s).to_string()),
                _ => None,
            })
            .collect();
        names.sort();
        names
    }

    /// Every node reachable from `roots`, in ascending (topological) order. A loop over
    /// the ids downward: no recursion.
    pub fn reachable(&self, roots: &[ExprId]) -> Vec<ExprId> {
        self.reachable_along(roots, |id, mark| {
            for c in self.children(id) {
                mark[c.index()] = true;
            }
        })
    }

    /// Every node reachable from `roots` along `edges`, in ascending order: `edges(id,
    /// mark)` marks (`mark[c.index()] = true`) the nodes `id` leads to, which must be
    /// below it (children, grandchildren). A loop over the ids downward: no recursion.
    pub(crate) fn reachable_along(
        &self,
        roots: &[ExprId],
        mut edges: impl FnMut(ExprId, &mut [bool]),
    ) -> Vec<ExprId> {
        let Some(top) = roots.iter().max() else {
            return Vec::new();
        };
        let mut mark = vec![false; top.index() + 1];
        for r in roots {
            mark[r.index()] = true;
        }
        for i in (0..mark.len()).rev() {
            if mark[i] {
                edges(ExprId(i as u32), &mut mark);
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
    pub(crate) fn intern(&mut self, node: Node<'_>) -> ExprId {
        let meta = self.compute_meta(&node);
        let low = meta.hash as u32;
        // The anchor, found once (a filed table only): for the probe and the insertion.
        let mut anchored = self.filed.then(|| anchor(&self.nodes, node.children()));
        let probe = filing::hash(low, anchored.flatten().map(|a| a.0));
        if let Some(&id) = self.index.find(probe, |&id| self.node(id) == node) {
            return id;
        }
        // Growing may switch the table to filing: the hash to insert under is taken after.
        self.reserve_index(1);
        if self.filed && anchored.is_none() {
            anchored = Some(anchor(&self.nodes, node.children()));
        }
        let id = ExprId(self.nodes.len() as u32);
        debug_assert!(
            node.children().iter().all(|c| *c < id),
            "children come before parents"
        );
        debug_assert!(node.as_num().is_none_or(|v| !v.is_nan()), "no NaN numbers");
        self.child_count += node.children().len();
        let mut append = |xs: &[ExprId]| {
            let start = ExprId(self.operands.len() as u32);
            self.operands.extend_from_slice(xs);
            [start, ExprId(xs.len() as u32)]
        };
        let stored = match node {
            Node::Num(bits) => Stored {
                kind: Kind::Num,
                ab: [ExprId(bits as u32), ExprId((bits >> 32) as u32)],
            },
            Node::Const(c) => Stored {
                kind: Kind::Const(c),
                ab: [ExprId(0); 2],
            },
            Node::Sym(s) => Stored {
                kind: Kind::Sym,
                ab: [ExprId(s.0), ExprId(0)],
            },
            Node::Add(xs) => Stored {
                kind: Kind::Add,
                ab: append(xs),
            },
            Node::Mul(xs) => Stored {
                kind: Kind::Mul,
                ab: append(xs),
            },
            Node::Pow(be) => Stored {
                kind: Kind::Pow,
                ab: be,
            },
            Node::Call(f, xs) => Stored {
                kind: Kind::Call(f),
                ab: append(xs),
            },
        };
        self.nodes.push(stored);
        self.meta.push(meta);
        let hash = filing::hash(low, anchored.flatten().map(|a| a.0));
        let rehash = stored_hash(&self.nodes, &self.operands, &self.meta, self.filed);
        self.index.insert_unique(hash, id, rehash);
        id
    }

    fn compute_meta(&self, node: &Node<'_>) -> Meta {
        let kids = node.children();
        let mut hash = mix(FNV_OFFSET, tag(node));
        let mut entire = kids.iter().all(|c| self.meta[c.index()].entire);
        let mut has_symbol = false;
        let mut tree_size: u32 = 1;
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
                let nonneg_int = self
                    .node(*e)
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
            sign: self.sign_of(node),
        }
    }

    /// The node for a named constant.
    pub fn constant(&mut self, c: Constant) -> ExprId {
        self.intern(Node::Const(c))
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn tag(node: &Node<'_>) -> u64 {
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

/// Where the hash-consing table files a node with the low half `low` of its structural
/// hash: uniformly while the table is small, else near its anchor (`engine::filing`), the
/// newest child that is not a number.
#[inline]
/// The table hash of a stored node, for the table to rehash its entries as it grows.
fn stored_hash<'a>(
    nodes: &'a [Stored],
    operands: &'a [ExprId],
    meta: &'a [Meta],
    filed: bool,
) -> impl Fn(&ExprId) -> u64 + 'a {
    move |&id| {
        table_hash(filed, meta[id.index()].hash as u32, || {
            stored_anchor(nodes, operands, id)
        })
    }
}

fn table_hash(filed: bool, low: u32, anchor: impl FnOnce() -> Option<ExprId>) -> u64 {
    filing::hash(low, if filed { anchor().map(|a| a.0) } else { None })
}

fn anchor(nodes: &[Stored], kids: &[ExprId]) -> Option<ExprId> {
    kids.iter()
        .copied()
        .filter(|c| !matches!(nodes[c.index()].kind, Kind::Num | Kind::Const(_)))
        .max()
}

fn stored_anchor(nodes: &[Stored], operands: &[ExprId], id: ExprId) -> Option<ExprId> {
    anchor(nodes, stored_children(nodes, operands, id))
}

/// The children of `id` from the pool's parts (`Pool::children`, also where the pool is
/// borrowed in parts, as while its table grows).
#[inline]
fn stored_children<'a>(nodes: &'a [Stored], operands: &'a [ExprId], id: ExprId) -> &'a [ExprId] {
    let stored = &nodes[id.index()];
    let [a, b] = stored.ab;
    match stored.kind {
        Kind::Num | Kind::Const(_) | Kind::Sym => &[],
        Kind::Add | Kind::Mul | Kind::Call(_) => list(operands, a, b),
        Kind::Pow => &stored.ab,
    }
}

/// The operand list of `len` ids from `start`. `get` rather than indexing: the range is
/// always in bounds, and without a panic path the compiler drops the slice where a caller
/// only looks at the kind.
#[inline]
fn list(operands: &[ExprId], start: ExprId, len: ExprId) -> &[ExprId] {
    operands
        .get(start.index()..start.index() + len.index())
        .unwrap_or(&[])
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
