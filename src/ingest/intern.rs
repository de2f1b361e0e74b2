//! One copy of each string that repeats across denial groups.
//!
//! A denial key is nine strings and lists (principal, token, scopes, endpoint,
//! message…), and logs hold millions of keys over a few thousand distinct
//! values. Owned, every key paid ~500 bytes of its own copies (measured: two
//! thirds of a key's memory); shared, a key is pointers to the one copy of
//! each value, and cloning a key copies no string.

use std::sync::Arc;

// hashbrown: its sets look up an `Arc<str>` by `&str` without building one.
use hashbrown::HashSet;

/// The shared copies made while one worker reads one unit of input. Keys that
/// outlive it keep their values alive; values met in two units are stored
/// twice at most per unit, which is a few thousand strings.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    lists: HashSet<Arc<[String]>>,
    pairs: HashSet<Arc<[(String, String)]>>,
}

impl Interner {
    /// The shared copy of `value`.
    pub fn string(&mut self, value: String) -> Arc<str> {
        shared(&mut self.strings, value.as_str(), || value.as_str().into())
    }

    /// The shared copy of a list of strings (scopes, body fields).
    pub fn list(&mut self, value: Vec<String>) -> Arc<[String]> {
        shared(&mut self.lists, value.as_slice(), || value.clone().into())
    }

    /// The shared copy of a list of name-value pairs (headers).
    pub fn pairs(&mut self, value: Vec<(String, String)>) -> Arc<[(String, String)]> {
        shared(&mut self.pairs, value.as_slice(), || value.clone().into())
    }
}

fn shared<T: ?Sized + Eq + std::hash::Hash>(
    set: &mut HashSet<Arc<T>>,
    value: &T,
    make: impl FnOnce() -> Arc<T>,
) -> Arc<T> {
    if let Some(found) = set.get(value) {
        return found.clone();
    }
    let made = make();
    set.insert(made.clone());
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy() {
        let mut interner = Interner::default();
        let a = interner.string("svc-a".to_string());
        let b = interner.string("svc-a".to_string());
        let c = interner.string("svc-b".to_string());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!((&*a, &*c), ("svc-a", "svc-b"));

        let scopes = || vec!["read".to_string(), "write".to_string()];
        let x = interner.list(scopes());
        assert!(Arc::ptr_eq(&x, &interner.list(scopes())));
        assert!(!Arc::ptr_eq(&x, &interner.list(vec!["read".to_string()])));

        let headers = || vec![("x".to_string(), "1".to_string())];
        let h = interner.pairs(headers());
        assert!(Arc::ptr_eq(&h, &interner.pairs(headers())));
    }
}
