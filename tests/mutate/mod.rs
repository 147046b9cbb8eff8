//! Byte mutations for property tests: set, insert or delete one byte at a random place, with
//! the bytes a parser cares about drawn more often than others.

use proptest::prelude::*;

/// One edit of a byte string; positions wrap around its length.
#[derive(Debug, Clone)]
pub enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

/// Any mutation, its new bytes drawn from `special` (which should include `any::<u8>()`).
pub fn mutation(special: impl Strategy<Value = u8> + Clone + 'static) -> BoxedStrategy<Mutation> {
    prop_oneof![
        (any::<usize>(), special.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), special).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
    .boxed()
}

/// `raw` with `muts` applied in order.
pub fn apply(mut raw: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        match *m {
            Mutation::Set(i, b) => {
                if !raw.is_empty() {
                    let n = raw.len();
                    raw[i % n] = b;
                }
            }
            Mutation::Insert(i, b) => {
                let n = raw.len() + 1;
                raw.insert(i % n, b);
            }
            Mutation::Delete(i) => {
                if !raw.is_empty() {
                    let n = raw.len();
                    raw.remove(i % n);
                }
            }
        }
    }
    raw
}
