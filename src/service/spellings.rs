//! The spelling front of the program cache: a request spelled exactly like an earlier one
//! finds its program here without being parsed. It is on every cached request's path, so
//! it is a plain map in shards behind uncontended locks (one hash, one lock, one compare),
//! not a second moka cache (whose bookkeeping per read cost a cached request more than
//! the rest of the lookup). Each shard has a byte budget; a shard over it forgets entries
//! until it is back under three quarters of it. Forgetting a spelling costs one parse on
//! its next request: the program itself lives in the main cache.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use hashbrown::HashTable;

use super::program::Program;

/// Shards: enough that two workers rarely meet on one lock.
const SHARDS: usize = 16;

/// What the front remembers of a program.
#[derive(Clone)]
pub struct Spelled {
    /// The program while it is alive (in the cache, or in a request): it holds no program
    /// alive, so every program alive is weighed by the main cache.
    pub program: Weak<Program>,
    /// Its canonical key, to find it again in the main cache.
    pub key: Arc<str>,
}

struct Shard {
    table: HashTable<(u64, String, Spelled)>,
    bytes: usize,
}

/// Spellings to programs, bounded in bytes.
pub struct Spellings {
    shards: Box<[Mutex<Shard>]>,
    budget: usize,
    /// A keyed hash (SipHash with random keys): spellings are chosen by clients.
    hasher: std::collections::hash_map::RandomState,
}

/// What an entry is counted as: its two keys, the handle and the table's own slot.
fn weight(spelling: &str, s: &Spelled) -> usize {
    spelling.len() + s.key.len() + std::mem::size_of::<(u64, String, Spelled)>() + 64
}

impl Spellings {
    /// A front of at most `capacity_bytes` (entries weighed by their keys and handle).
    pub fn new(capacity_bytes: usize) -> Spellings {
        Spellings {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        table: HashTable::new(),
                        bytes: 0,
                    })
                })
                .collect(),
            budget: capacity_bytes / SHARDS,
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        // The middle bits: hashbrown uses the low ones for buckets and the top ones for tags.
        &self.shards[((hash >> 32) as usize) % SHARDS]
    }

    /// The entry of `spelling`, if remembered.
    pub fn get(&self, spelling: &str) -> Option<Spelled> {
        let hash = self.hasher.hash_one(spelling);
        let shard = self
            .shard(hash)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .table
            .find(hash, |(h, k, _)| *h == hash && k == spelling)
            .map(|(_, _, s)| s.clone())
    }

    /// Remembers `spelling`; an entry larger than a shard's budget is not kept.
    pub fn insert(&self, spelling: String, spelled: Spelled) {
        let w = weight(&spelling, &spelled);
        if w > self.budget {
            return;
        }
        let hash = self.hasher.hash_one(spelling.as_str());
        let mut shard = self
            .shard(hash)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let shard = &mut *shard;
        if let Ok(old) = shard
            .table
            .find_entry(hash, |(h, k, _)| *h == hash && *k == spelling)
        {
            let ((_, k, s), _) = old.remove();
            shard.bytes -= weight(&k, &s);
        }
        if shard.bytes + w > self.budget {
            let target = self.budget / 4 * 3;
            let mut bytes = shard.bytes;
            shard.table.retain(|(_, k, s)| {
                if bytes + w <= target {
                    return true;
                }
                bytes -= weight(k, s);
                false
            });
            shard.bytes = bytes;
        }
        shard.bytes += w;
        shard
            .table
            .insert_unique(hash, (hash, spelling, spelled), |(h, _, _)| *h);
    }

    /// Entries and bytes held (for tests).
    pub fn stats(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, b), s| {
            let s = s.lock().unwrap_or_else(PoisonError::into_inner);
            (n + s.table.len(), b + s.bytes)
        })
    }
}
