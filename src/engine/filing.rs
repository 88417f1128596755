//! Where the engine's hash tables file an entry: near the entries built at the same time.
//!
//! The pool's hash-consing table and the compiler's table of instructions each hold one
//! entry per node or instruction, hundreds of thousands for a large gradient: megabytes,
//! more than a core's L2 cache and its TLB reach. With a uniform hash every probe is a
//! cache miss, often a TLB miss too. But what
//! is built together has the same newest operand (its *anchor*), or anchors close by: the
//! terms of one summand, its partials. So an entry's bucket takes its high bits from the
//! anchor's block of [`BLOCK`] ids and only its low bits from the entry's own hash: the
//! probes of a phase stay in the few windows of the latest blocks, which stay in the
//! cache, and reading a large expression touches the table as it touches the nodes, in
//! order.
//!
//! A window is [`WINDOW`] buckets, four per id of its block: the entries of a block are
//! spread out inside it at a load the table's probing handles in a group or two, and
//! densely enough that a cache line holds two of them (at eight buckets per id, each new
//! entry wrote a cache line of its own: W2 at n = 10,000 missed a simulated 2 MiB cache
//! 60,000 times more and took about 1.1 times as long, in the median of 30 interleaved
//! runs). Many entries with one anchor (thousands of products of one late symbol, say;
//! numbers are never anchors, as constructors use a few of them everywhere) overflow their
//! window; the table's probe sequence then leaves it within a few dozen groups. Measured
//! with 100,000 products `y*x_i` (four times what the default expression limit admits): up
//! to about 1.5 times the time of a uniform hash, and no difference at 20,000. Entries
//! without an anchor (leaves) are spread uniformly.

/// Tables that hold fewer entries than this hash uniformly: they fit a core's caches
/// anyway, and finding an entry's anchor costs reads that a small table does not repay
/// (see `benches/README.md`). A table switches when it grows past this, rehashing every
/// entry.
pub const FILE_FROM: usize = 1 << 15;

/// How many consecutive ids share a window (a power of two).
const BLOCK: u32 = 1 << 11;
/// The buckets of a window (a power of two): four per id of the block.
const WINDOW: u32 = 1 << 13;

/// The hash to file an entry under, from 32 well-mixed bits of its own hash and the index
/// of its anchor, if it has one. hashbrown takes the bucket from the low bits and a tag
/// from the top seven: the tag comes from the entry's hash whatever the anchor.
#[inline]
pub fn hash(own: u32, anchor: Option<u32>) -> u64 {
    // Uniform: a multiplicative hash spreads the bits (hashbrown reads the low and the
    // high ones).
    match anchor {
        Some(a) => {
            // Past 2^29 ids the windows wrap around, as they do past the table's size.
            let bucket = (a / BLOCK).wrapping_mul(WINDOW) | (own & (WINDOW - 1));
            (u64::from(own) << 32) | u64::from(bucket)
        }
        None => u64::from(own).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    }
}
