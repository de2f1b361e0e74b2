//! Values a user picks by name (an output format, a compression): each list
//! is declared once, beside what it selects, and the command line turns it
//! into a checked option with help for every value.

/// A value picked by name.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every value, in the order help lists them.
    const ALL: &'static [Self];
    /// The name a user writes.
    fn name(self) -> &'static str;
    /// What the value does, for help; empty where the name says it all.
    fn about(self) -> &'static str {
        ""
    }
}
