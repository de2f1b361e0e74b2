//! One copy of each string that repeats across denial groups and diagnoses.
//!
//! A denial key is nine strings and lists (principal, token, scopes, endpoint,
//! message…), and logs hold millions of keys over a few thousand distinct
//! values. Owned, every key paid ~500 bytes of its own copies (measured: two
//! thirds of a key's memory); shared, a key is pointers to the one copy of
//! each value, and cloning a key copies no string.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

// hashbrown: its sets look up an `Arc<str>` by `&str` without building one.
use hashbrown::HashSet;

/// The shared copies one worker made: of what it read from one unit of input,
/// or of the diagnoses it judged. Values outlive it in what holds them; a value
/// met by two workers is stored twice, which is a few thousand strings.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    lists: HashSet<Arc<[String]>>,
    pairs: HashSet<Arc<[(String, String)]>>,
}

impl Interner {
    /// The shared copy of `value`.
    pub fn string(&mut self, value: impl Borrow<str> + Into<Arc<str>>) -> Arc<str> {
        shared(&mut self.strings, value)
    }

    /// The shared copy of a list of strings (scopes, fields, permissions).
    pub fn list(&mut self, value: impl Borrow<[String]> + Into<Arc<[String]>>) -> Arc<[String]> {
        shared(&mut self.lists, value)
    }

    /// The shared copy of a list of name-value pairs (headers).
    pub fn pairs(
        &mut self,
        value: impl Borrow<[(String, String)]> + Into<Arc<[(String, String)]>>,
    ) -> Arc<[(String, String)]> {
        shared(&mut self.pairs, value)
    }
}

/// The copy in `set` equal to `value`, else `value`, now in `set`.
fn shared<T, V>(set: &mut HashSet<Arc<T>>, value: V) -> Arc<T>
where
    T: ?Sized + Eq + Hash,
    V: Borrow<T> + Into<Arc<T>>,
{
    if let Some(found) = set.get(value.borrow()) {
        return found.clone();
    }
    let made = value.into();
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
