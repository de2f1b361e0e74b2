//! Hostile input: audit logs are attacker-controlled text (user agents, paths,
//! object ids, often principal names), and grantgap's outputs are read by people
//! and applied by tools. One module per class of attack; each test rebuilds a
//! reproduction from small generated input and checks every output it reaches.

mod common;

#[path = "hostile/complexity.rs"]
mod complexity;
#[path = "hostile/emit.rs"]
mod emit;
#[path = "hostile/outputs.rs"]
mod outputs;
#[path = "hostile/redaction.rs"]
mod redaction;
#[path = "hostile/rendering.rs"]
mod rendering;
#[path = "hostile/sizes.rs"]
mod sizes;
