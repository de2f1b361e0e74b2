//! One copy of each string that repeats across denial groups and diagnoses.
//!
//! A denial key is nine strings and lists (principal, token, scopes, endpoint,
//! message…), and logs hold millions of keys over a few thousand distinct
//! values. Owned, every key paid ~500 bytes of its own copies (measured: two
//! thirds of a key's memory); shared, a key is pointers to the one copy of
//! each value, and cloning a key copies no string.

use std::borrow::Borrow;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::Arc;

// hashbrown: its sets look up a `Shared<str>` by `&str` without building one.
use hashbrown::HashSet;

/// A shared, immutable value behind one thin pointer: 8 bytes where an
/// `Arc<str>` or `Arc<[T]>` is 16 (a pointer and a length). A denial key holds
/// ten of them, diagnoses three, and there is one of each per denial group
/// (680,000 at 10 GB); reading the length through one more pointer costs
/// nothing measurable next to what is done with the value.
///
/// Compared, ordered and hashed as the value it points to.
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shared<T: ?Sized>(Arc<Box<T>>);

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T> FromIterator<T> for Shared<[T]> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Shared::from(items.into_iter().collect::<Vec<T>>())
    }
}

impl<T: ?Sized> Shared<T> {
    /// Whether `a` and `b` are the one copy.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> Borrow<T> for Shared<T> {
    fn borrow(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: ?Sized + std::fmt::Display> std::fmt::Display for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Default for Shared<str> {
    fn default() -> Self {
        Shared::from("")
    }
}

impl<T> Default for Shared<[T]> {
    fn default() -> Self {
        Shared(Arc::new(Box::default()))
    }
}

impl From<&str> for Shared<str> {
    fn from(value: &str) -> Self {
        Shared(Arc::new(value.into()))
    }
}

impl From<String> for Shared<str> {
    fn from(value: String) -> Self {
        Shared(Arc::new(value.into_boxed_str()))
    }
}

impl<T> From<Vec<T>> for Shared<[T]> {
    fn from(value: Vec<T>) -> Self {
        Shared(Arc::new(value.into_boxed_slice()))
    }
}

impl<T: Clone> From<&[T]> for Shared<[T]> {
    fn from(value: &[T]) -> Self {
        Shared(Arc::new(value.into()))
    }
}

/// The shared copies one worker made: of what it read from one unit of input,
/// or of the diagnoses it judged. Values outlive it in what holds them; a value
/// met by two workers is stored twice, which is a few thousand strings.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    strings: HashSet<Shared<str>>,
    lists: HashSet<Shared<[String]>>,
    pairs: HashSet<Shared<[(String, String)]>>,
}

impl Interner {
    /// The shared copy of `value`.
    pub fn string(&mut self, value: impl Borrow<str> + Into<Shared<str>>) -> Shared<str> {
        shared(&mut self.strings, value)
    }

    /// The shared copy of a list of strings (scopes, fields, permissions).
    pub fn list(
        &mut self,
        value: impl Borrow<[String]> + Into<Shared<[String]>>,
    ) -> Shared<[String]> {
        shared(&mut self.lists, value)
    }

    /// The shared copy of a list of name-value pairs (headers).
    pub fn pairs(
        &mut self,
        value: impl Borrow<[(String, String)]> + Into<Shared<[(String, String)]>>,
    ) -> Shared<[(String, String)]> {
        shared(&mut self.pairs, value)
    }
}

/// The copy in `set` equal to `value`, else `value`, now in `set`.
fn shared<T, V>(set: &mut HashSet<Shared<T>>, value: V) -> Shared<T>
where
    T: ?Sized + Eq + Hash,
    V: Borrow<T> + Into<Shared<T>>,
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
        assert!(Shared::ptr_eq(&a, &b));
        assert!(!Shared::ptr_eq(&a, &c));
        assert_eq!((&*a, &*c), ("svc-a", "svc-b"));

        let scopes = || vec!["read".to_string(), "write".to_string()];
        let x = interner.list(scopes());
        assert!(Shared::ptr_eq(&x, &interner.list(scopes())));
        assert!(!Shared::ptr_eq(
            &x,
            &interner.list(vec!["read".to_string()])
        ));

        let headers = || vec![("x".to_string(), "1".to_string())];
        let h = interner.pairs(headers());
        assert!(Shared::ptr_eq(&h, &interner.pairs(headers())));
    }
}
