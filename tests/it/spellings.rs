//! The spelling front of the cache: what it remembers it finds, and it never holds more
//! bytes than its budget, however many spellings arrive.

use std::sync::{Arc, Weak};

use nabla::service::spellings::{Spelled, Spellings};

fn spelled(key: &str) -> Spelled {
    Spelled {
        program: Weak::new(),
        key: Arc::from(key),
    }
}

#[test]
fn it_finds_what_it_remembers_and_stays_within_its_budget() {
    let budget = 64 * 1024;
    let front = Spellings::new(budget);
    for i in 0..20_000 {
        let spelling = format!("Gradient|{i}:x^{i} + y");
        front.insert(spelling.clone(), spelled(&format!("key {i}")));
        // The newest is always there.
        let got = front.get(&spelling).expect("just inserted");
        assert_eq!(&*got.key, format!("key {i}"));
        let (_, bytes) = front.stats();
        assert!(bytes <= budget, "{bytes} bytes after {i} insertions");
    }
    let (entries, _) = front.stats();
    assert!(
        entries > 100,
        "only {entries} entries kept of a 64 KiB budget"
    );
    assert!(front.get("Gradient|never").is_none());
    // Replacing an entry does not count it twice.
    let (_, before) = front.stats();
    front.insert("Gradient|19999:x^19999 + y".into(), spelled("key again"));
    assert_eq!(front.stats().1, before);
    // An entry larger than a shard's budget is not kept.
    let huge = "x".repeat(budget);
    front.insert(huge.clone(), spelled("k"));
    assert!(front.get(&huge).is_none());
}
