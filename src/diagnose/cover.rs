//! The fix for missing permissions: the fewest existing API roles that together
//! grant all of them, preferring roles that grant least beyond what is needed.

use std::collections::BTreeSet;

use crate::correlate::roles::RoleGraph;

/// Exhaustive search is used while the number of role combinations to try stays
/// under this; beyond it, greedy.
const EXACT_SEARCH_LIMIT: u64 = 200_000;

/// The roles to grant, and the permissions no existing role grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub roles: Vec<String>,
    pub uncoverable: Vec<String>,
    /// Whether `roles` is proven minimal (exact search) or greedy.
    pub exact: bool,
}

/// A permission written `a|b` is covered by a role granting either.
fn covers(grants: &BTreeSet<String>, permission: &str) -> bool {
    crate::correlate::roles::grants_permission(grants, permission)
}

/// The smallest set of API roles granting every permission in `needed`.
///
/// Exact (fewest roles, then least excess, then names) while the search is small;
/// otherwise greedy set cover, which takes at most ln(n)+1 times the fewest roles
/// for n permissions.
pub fn smallest_cover(needed: &BTreeSet<String>, graph: &RoleGraph) -> Cover {
    let mut candidates: Vec<(String, BTreeSet<String>)> = graph
        .api_roles()
        .map(|role| (role.to_string(), graph.grants([role]).api))
        .filter(|(_, grants)| needed.iter().any(|p| covers(grants, p)))
        .collect();
    candidates.sort();
    let uncoverable: Vec<String> = needed
        .iter()
        .filter(|p| !candidates.iter().any(|(_, g)| covers(g, p)))
        .cloned()
        .collect();
    let coverable: Vec<&String> = needed.iter().filter(|p| !uncoverable.contains(p)).collect();
    if coverable.is_empty() {
        return Cover {
            roles: vec![],
            uncoverable,
            exact: true,
        };
    }
    // Each candidate as bits: which needed permissions it covers, and which
    // permissions it grants at all. A combination is then a few ORs, not string
    // matching: the search tries up to EXACT_SEARCH_LIMIT of them per principal.
    let universe: Vec<&String> = candidates
        .iter()
        .flat_map(|(_, g)| g)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let covered: Vec<Bits> = candidates
        .iter()
        .map(|(_, g)| Bits::of(coverable.len(), |i| covers(g, coverable[i])))
        .collect();
    let granted: Vec<Bits> = candidates
        .iter()
        .map(|(_, g)| Bits::of(universe.len(), |i| g.contains(universe[i])))
        .collect();
    let everything = Bits::of(coverable.len(), |_| true);
    let (mut cover_scratch, mut grant_scratch) =
        (everything.empty(), Bits::of(universe.len(), |_| false));
    let mut covers_all =
        |chosen: &[usize]| *Bits::union_into(&mut cover_scratch, chosen, &covered) == everything;
    let mut excess = |chosen: &[usize]| {
        Bits::union_into(&mut grant_scratch, chosen, &granted)
            .count()
            .saturating_sub(coverable.len())
    };

    let mut tried = 0u64;
    for size in 1..=coverable.len().min(candidates.len()) {
        tried += combinations_count(candidates.len() as u64, size as u64);
        if tried > EXACT_SEARCH_LIMIT {
            break;
        }
        let mut best: Option<(usize, Vec<usize>)> = None;
        for_each_combination(candidates.len(), size, &mut |chosen| {
            if covers_all(chosen) {
                let e = excess(chosen);
                if best.as_ref().is_none_or(|(b, _)| e < *b) {
                    best = Some((e, chosen.to_vec()));
                }
            }
        });
        if let Some((_, chosen)) = best {
            let roles = chosen.iter().map(|&i| candidates[i].0.clone()).collect();
            return Cover {
                roles,
                uncoverable,
                exact: true,
            };
        }
    }
    greedy(&coverable, &candidates, uncoverable)
}

fn greedy(
    coverable: &[&String],
    candidates: &[(String, BTreeSet<String>)],
    uncoverable: Vec<String>,
) -> Cover {
    let mut left: Vec<&String> = coverable.to_vec();
    let mut roles = Vec::new();
    while !left.is_empty() {
        let best = candidates
            .iter()
            .map(|(role, grants)| {
                let n = left.iter().filter(|p| covers(grants, p)).count();
                (
                    n,
                    std::cmp::Reverse(grants.len().saturating_sub(n)),
                    std::cmp::Reverse(role),
                    grants,
                )
            })
            .max();
        let Some((n, _, std::cmp::Reverse(role), grants)) = best else {
            break;
        };
        if n == 0 {
            break;
        }
        left.retain(|p| !covers(grants, p));
        roles.push(role.clone());
    }
    Cover {
        roles,
        uncoverable,
        exact: false,
    }
}

/// A set of small indices.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    /// The indices below `n` for which `member` holds.
    fn of(n: usize, member: impl Fn(usize) -> bool) -> Bits {
        let mut words = vec![0u64; n.div_ceil(64)];
        for i in (0..n).filter(|&i| member(i)) {
            words[i / 64] |= 1 << (i % 64);
        }
        Bits(words)
    }

    fn empty(&self) -> Bits {
        Bits(vec![0; self.0.len()])
    }

    /// Sets `into` to the union of the chosen sets, and returns it.
    fn union_into<'a>(into: &'a mut Bits, chosen: &[usize], sets: &[Bits]) -> &'a Bits {
        into.0.iter_mut().for_each(|w| *w = 0);
        for &i in chosen {
            for (w, s) in into.0.iter_mut().zip(&sets[i].0) {
                *w |= s;
            }
        }
        into
    }

    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
}

fn combinations_count(n: u64, k: u64) -> u64 {
    (0..k).fold(1u64, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Calls `f` with every k-subset of 0..n, in lexicographic order.
fn for_each_combination(n: usize, k: usize, f: &mut dyn FnMut(&[usize])) {
    fn go(start: usize, n: usize, k: usize, chosen: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if chosen.len() == k {
            f(chosen);
            return;
        }
        for i in start..n {
            chosen.push(i);
            go(i + 1, n, k, chosen, f);
            chosen.pop();
        }
    }
    go(0, n, k, &mut Vec::with_capacity(k), f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoleDef;

    fn role(name: &str, perms: &[&str]) -> RoleDef {
        RoleDef {
            role: name.into(),
            permissions: perms.iter().map(|p| p.to_string()).collect(),
            inherits: vec![],
            plane: "api".into(),
            defined_at: None,
        }
    }

    fn needed(perms: &[&str]) -> BTreeSet<String> {
        perms.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn exact_search_beats_greedy_where_greedy_is_wrong() {
        // Greedy takes Big (covers 4) and then needs two more; the optimum is Left + Right.
        let graph = RoleGraph::new(&[
            role("Big", &["a", "b", "c", "d"]),
            role("Left", &["a", "b", "e"]),
            role("Right", &["c", "d", "f"]),
            role("E", &["e"]),
            role("F", &["f"]),
        ]);
        let cover = smallest_cover(&needed(&["a", "b", "c", "d", "e", "f"]), &graph);
        assert_eq!(cover.roles, vec!["Left", "Right"]);
        assert!(cover.exact);
    }

    #[test]
    fn the_least_over_granting_role_wins_a_tie() {
        let graph = RoleGraph::new(&[role("Admin", &["x", "y", "z", "w"]), role("Narrow", &["x"])]);
        assert_eq!(
            smallest_cover(&needed(&["x"]), &graph).roles,
            vec!["Narrow"]
        );
    }

    #[test]
    fn permissions_no_role_grants_are_named() {
        let graph = RoleGraph::new(&[role("R", &["x"])]);
        let cover = smallest_cover(&needed(&["x", "nobody.grants.this"]), &graph);
        assert_eq!(
            (cover.roles, cover.uncoverable),
            (
                vec!["R".to_string()],
                vec!["nobody.grants.this".to_string()]
            )
        );
    }

    #[test]
    fn application_plane_roles_are_never_proposed() {
        let mut ui = role("UI Manager", &["x"]);
        ui.plane = "application".into();
        let graph = RoleGraph::new(&[ui, role("API Writer", &["x", "y"])]);
        assert_eq!(
            smallest_cover(&needed(&["x"]), &graph).roles,
            vec!["API Writer"]
        );
    }

    #[test]
    fn large_instances_fall_back_to_greedy() {
        let roles: Vec<RoleDef> = (0..60)
            .map(|i| {
                role(
                    &format!("R{i:02}"),
                    &[&format!("p{i}"), &format!("p{}", i + 1)],
                )
            })
            .collect();
        let graph = RoleGraph::new(&roles);
        let want: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
        let cover = smallest_cover(&want.iter().cloned().collect(), &graph);
        assert!(!cover.exact);
        assert!(cover.uncoverable.is_empty());
        let granted: BTreeSet<String> = graph.grants(cover.roles.iter().map(String::as_str)).api;
        assert!(want.iter().all(|p| granted.contains(p)));
    }
}
