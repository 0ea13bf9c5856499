//! A bounded per-isolate cache: two generations, so filling it never drops everything at
//! once (which would send a burst of requests back to KV, the directory or WebCrypto).

use std::collections::HashMap;

/// Holds at most `2 × half` entries; the older half is dropped when the newer one fills.
pub struct Generations<V> {
    young: HashMap<String, V>,
    old: HashMap<String, V>,
    half: usize,
}

impl<V: Clone> Generations<V> {
    pub fn new(half: usize) -> Self {
        Generations {
            young: HashMap::new(),
            old: HashMap::new(),
            half,
        }
    }

    /// A copy of the entry; an entry found in the old generation moves to the young one.
    pub fn get(&mut self, k: &str) -> Option<V> {
        if let Some(v) = self.young.get(k) {
            return Some(v.clone());
        }
        let v = self.old.remove(k)?;
        self.insert(k.to_string(), v.clone());
        Some(v)
    }

    pub fn insert(&mut self, k: String, v: V) {
        if self.young.len() >= self.half {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(k, v);
    }
}
