//! The fix for missing permissions: the fewest existing API roles that together
//! grant all of them, preferring roles that grant least beyond what is needed.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;

use crate::correlate::roles::RoleGraph;
use crate::model::INLINE_POLICY_MARK;

/// Exhaustive search is used while the number of role combinations to try stays
/// under this; beyond it, greedy.
const EXACT_SEARCH_LIMIT: u64 = 200_000;

/// What a wildcard grant (`s3:Get*`) weighs against listed permissions when
/// the least excess is chosen: it grants every action of its pattern, most of
/// which no log or dump lists, so a role that lists a few actions is preferred
/// to one that matches them by pattern, unless it lists ten more.
const WILDCARD_WEIGHT: usize = 10;

/// The roles to grant, and the permissions no existing role grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub roles: Vec<String>,
    pub uncoverable: Vec<String>,
    /// Whether `roles` is proven minimal (exact search) or greedy.
    pub exact: bool,
}

/// A grant that allows a whole service or everything (`*`, `iam:*`, `*/read`,
/// `Microsoft.Storage/*`, Kubernetes `core/pods:*`). A fix never proposes a
/// role for what such a grant covers: an administrator role "covers" every
/// gap, and proposing it is the over-grant this tool exists to prevent.
fn broad(grant: &str) -> bool {
    grant.starts_with('*') || grant.ends_with(":*") || grant.ends_with("/*")
}

/// A permission written `a|b` is covered by a role granting either.
fn covers(grants: &BTreeSet<String>, permission: &str) -> bool {
    crate::correlate::roles::grants_permission(grants, permission)
}

/// The existing API roles a fix may propose, each with what it grants, and
/// which of them cover each permission the partition's findings name. The role
/// graph is the same for every principal, so this is made once per partition
/// of principals: made per principal (every role's grants walked, matched
/// against each needed permission and against every permission any role
/// grants) it was 7% of the CPU of a report on the 2 GB corpus.
pub struct Candidates {
    /// Sorted by name: the search breaks ties by names.
    roles: Vec<Candidate>,
    /// Which of the permissions granted ([`Candidate::granted`]) are patterns.
    wildcards: Bits,
    /// The candidates (by index) that cover each permission made for.
    covering: HashMap<String, Bits>,
}

struct Candidate {
    name: String,
    /// What it grants to API calls, broad grants left out ([`broad`]).
    grants: BTreeSet<String>,
    /// `grants` as bits over every permission some candidate grants.
    granted: Bits,
    /// [`weight`] of `grants`.
    weight: usize,
}

impl Candidates {
    /// Every API role of the graph but aliases and inline policies (they
    /// belong to one principal), by its latest definition; `permissions` are
    /// those the fixes will ask about (others are matched when asked).
    pub fn of(graph: &RoleGraph, permissions: &BTreeSet<&str>) -> Self {
        let mut named: Vec<(String, BTreeSet<String>)> = graph
            .api_roles()
            .filter(|role| !graph.is_alias(role) && !role.contains(INLINE_POLICY_MARK))
            .map(|role| {
                let mut grants = graph.grants([role]).api;
                grants.retain(|g| !broad(g));
                (role.to_string(), grants)
            })
            .collect();
        named.sort();
        let universe: Vec<&String> = named
            .iter()
            .flat_map(|(_, g)| g)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let wildcards = Bits::of(universe.len(), |i| universe[i].contains(['*', '?']));
        let granted: Vec<Bits> = named
            .iter()
            .map(|(_, g)| Bits::of(universe.len(), |i| g.contains(universe[i])))
            .collect();
        let roles = named
            .into_iter()
            .zip(granted)
            .map(|((name, grants), granted)| Candidate {
                weight: weight(&grants),
                name,
                grants,
                granted,
            })
            .collect();
        let mut candidates = Candidates {
            roles,
            wildcards,
            covering: HashMap::new(),
        };
        candidates.covering = permissions
            .par_iter()
            .map(|p| (p.to_string(), candidates.matching(p)))
            .collect();
        candidates
    }

    /// The candidates that cover `permission`.
    fn covering(&self, permission: &str) -> Cow<'_, Bits> {
        match self.covering.get(permission) {
            Some(bits) => Cow::Borrowed(bits),
            None => Cow::Owned(self.matching(permission)),
        }
    }

    fn matching(&self, permission: &str) -> Bits {
        Bits::of(self.roles.len(), |i| {
            covers(&self.roles[i].grants, permission)
        })
    }
}

/// The smallest set of API roles granting every permission in `needed`.
///
/// Exact (fewest roles, then least excess, then names) while the search is small;
/// otherwise greedy set cover, which takes at most ln(n)+1 times the fewest roles
/// for n permissions.
pub fn smallest_cover(needed: &BTreeSet<String>, candidates: &Candidates) -> Cover {
    let (coverable, uncoverable): (Vec<_>, Vec<_>) = needed
        .iter()
        .map(|p| (p, candidates.covering(p)))
        .partition(|(_, by)| !by.is_empty());
    let uncoverable: Vec<String> = uncoverable.into_iter().map(|(p, _)| p.clone()).collect();
    if coverable.is_empty() {
        return Cover {
            roles: vec![],
            uncoverable,
            exact: true,
        };
    }
    let relevant: Vec<usize> = (0..candidates.roles.len())
        .filter(|&c| coverable.iter().any(|(_, by)| by.contains(c)))
        .collect();
    // Each candidate as bits: which needed permissions it covers, and which
    // permissions it grants at all. A combination is then a few ORs, not string
    // matching: the search tries up to EXACT_SEARCH_LIMIT of them per principal.
    let covered: Vec<Bits> = relevant
        .iter()
        .map(|&c| Bits::of(coverable.len(), |i| coverable[i].1.contains(c)))
        .collect();
    let relevant: Vec<&Candidate> = relevant.iter().map(|&c| &candidates.roles[c]).collect();
    let granted: Vec<&Bits> = relevant.iter().map(|c| &c.granted).collect();
    let everything = Bits::of(coverable.len(), |_| true);
    let mut grant_scratch = candidates.wildcards.empty_like();
    let mut excess = |chosen: &[usize]| {
        let union = Bits::union_into(&mut grant_scratch, chosen, &granted);
        (union.count() + (WILDCARD_WEIGHT - 1) * union.common(&candidates.wildcards))
            .saturating_sub(coverable.len())
    };

    let mut tried = 0u64;
    for size in 1..=coverable.len().min(relevant.len()) {
        tried += combinations_count(relevant.len() as u64, size as u64);
        if tried > EXACT_SEARCH_LIMIT {
            break;
        }
        // Least excess, then the first by names (candidates are sorted).
        let mut best: Option<(usize, Vec<usize>)> = None;
        for_each_cover(size, &covered, &everything, &mut |chosen| {
            let e = excess(chosen);
            if best
                .as_ref()
                .is_none_or(|(b, c)| (e, chosen) < (*b, c.as_slice()))
            {
                best = Some((e, chosen.to_vec()));
            }
        });
        if let Some((_, chosen)) = best {
            let roles = chosen.iter().map(|&i| relevant[i].name.clone()).collect();
            return Cover {
                roles,
                uncoverable,
                exact: true,
            };
        }
    }
    greedy(&relevant, &covered, coverable.len(), uncoverable)
}

/// What a role grants, each wildcard counted as [`WILDCARD_WEIGHT`].
fn weight(grants: &BTreeSet<String>) -> usize {
    grants
        .iter()
        .map(|g| {
            if g.contains(['*', '?']) {
                WILDCARD_WEIGHT
            } else {
                1
            }
        })
        .sum()
}

/// Greedy set cover: the candidate covering most of what is left, then the
/// least excess, then the first by name. `covered[c]` holds the indices (below
/// `needed`) of the permissions candidate `c` covers.
fn greedy(
    candidates: &[&Candidate],
    covered: &[Bits],
    needed: usize,
    uncoverable: Vec<String>,
) -> Cover {
    let mut left = Bits::of(needed, |_| true);
    let mut roles = Vec::new();
    while left.count() > 0 {
        let best = candidates
            .iter()
            .zip(covered)
            .map(|(c, covers)| {
                let n = left.common(covers);
                (
                    n,
                    std::cmp::Reverse(c.weight.saturating_sub(n)),
                    std::cmp::Reverse(&c.name),
                    covers,
                )
            })
            .max_by_key(|&(n, excess, name, _)| (n, excess, name));
        let Some((n, _, std::cmp::Reverse(role), covers)) = best else {
            break;
        };
        if n == 0 {
            break;
        }
        left = left.without(covers);
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

    /// No index, in as many words.
    fn empty_like(&self) -> Bits {
        Bits(vec![0; self.0.len()])
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }

    /// The lowest index of `all` missing here.
    fn first_missing(&self, all: &Bits) -> Option<usize> {
        self.0
            .iter()
            .zip(&all.0)
            .enumerate()
            .find_map(|(w, (mine, all))| {
                let missing = all & !mine;
                (missing != 0).then(|| w * 64 + missing.trailing_zeros() as usize)
            })
    }

    fn without(&self, other: &Bits) -> Bits {
        Bits(self.0.iter().zip(&other.0).map(|(a, b)| a & !b).collect())
    }

    fn union(&self, other: &Bits) -> Bits {
        Bits(self.0.iter().zip(&other.0).map(|(a, b)| a | b).collect())
    }

    /// Sets `into` to the union of the chosen sets, and returns it.
    fn union_into<'a>(into: &'a mut Bits, chosen: &[usize], sets: &[&Bits]) -> &'a Bits {
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

    /// How many indices are in both.
    fn common(&self, other: &Bits) -> usize {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }
}

fn combinations_count(n: u64, k: u64) -> u64 {
    (0..k).fold(1u64, |acc, i| acc.saturating_mul(n - i) / (i + 1))
}

/// Calls `f` with the sorted indices of every `k` candidates that together
/// cover `everything` and no fewer of which do, where no cover of fewer than `k`
/// exists (the search asks for sizes 1, 2, ... in turn). A set may come more
/// than once.
///
/// Instead of trying every k-subset, it branches only on the candidates that
/// cover the lowest permission still uncovered: each cover of the smallest size
/// is still reached (one of its roles covers that permission, at every step),
/// and the subsets that cannot cover it are never tried. perf had the plain
/// enumeration at 70% of the cluster stage on the 2 GB corpus.
fn for_each_cover(k: usize, covered: &[Bits], everything: &Bits, f: &mut dyn FnMut(&[usize])) {
    fn go(
        k: usize,
        covered: &[Bits],
        everything: &Bits,
        union: &Bits,
        chosen: &mut Vec<usize>,
        f: &mut dyn FnMut(&[usize]),
    ) {
        let Some(lowest) = union.first_missing(everything) else {
            if chosen.len() == k {
                let mut set = chosen.clone();
                set.sort_unstable();
                f(&set);
            }
            return;
        };
        if chosen.len() == k {
            return;
        }
        // A candidate covering `lowest` cannot be chosen already.
        for (i, c) in covered
            .iter()
            .enumerate()
            .filter(|(_, c)| c.contains(lowest))
        {
            chosen.push(i);
            go(k, covered, everything, &union.union(c), chosen, f);
            chosen.pop();
        }
    }
    let none = everything.empty_like();
    go(k, covered, everything, &none, &mut Vec::with_capacity(k), f);
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
            denies: Vec::new(),
        }
    }

    fn smallest_cover_in(needed: &BTreeSet<String>, graph: &RoleGraph) -> Cover {
        let asked = needed.iter().map(String::as_str).collect();
        smallest_cover(needed, &Candidates::of(graph, &asked))
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
        let cover = smallest_cover_in(&needed(&["a", "b", "c", "d", "e", "f"]), &graph);
        assert_eq!(cover.roles, vec!["Left", "Right"]);
        assert!(cover.exact);
    }

    #[test]
    fn listed_actions_beat_a_pattern_and_inline_policies_are_no_fix() {
        let graph = RoleGraph::new(&[
            role(
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                &["s3:Get*", "s3:List*"],
            ),
            role(
                "arn:aws:iam::1:policy/S3Read",
                &[
                    "s3:GetObject",
                    "s3:GetObjectTagging",
                    "s3:GetBucketLocation",
                ],
            ),
            role("arn:aws:iam::1:role/etl#inline/adhoc", &["s3:GetObject"]),
        ]);
        // The pattern grants every s3:Get and s3:List action there is; the
        // inline policy grants least but belongs to its role alone.
        assert_eq!(
            smallest_cover_in(&needed(&["s3:GetObject"]), &graph).roles,
            vec!["arn:aws:iam::1:policy/S3Read"]
        );
    }

    #[test]
    fn administrator_roles_are_never_the_fix() {
        let graph = RoleGraph::new(&[
            role("arn:aws:iam::aws:policy/AdministratorAccess", &["*"]),
            role("S3Full", &["s3:*"]),
            role("ClusterAdmin", &["*/*:*"]),
            role("Reader", &["*/read"]),
            role("S3ReadOnly", &["s3:Get*", "s3:List*"]),
        ]);
        assert_eq!(
            smallest_cover_in(&needed(&["s3:GetObject"]), &graph).roles,
            vec!["S3ReadOnly"]
        );
        let cover = smallest_cover_in(&needed(&["s3:PutObject"]), &graph);
        assert_eq!(cover.roles, Vec::<String>::new());
        assert_eq!(cover.uncoverable, vec!["s3:PutObject"]);
    }

    #[test]
    fn the_least_over_granting_role_wins_a_tie() {
        let graph = RoleGraph::new(&[role("Admin", &["x", "y", "z", "w"]), role("Narrow", &["x"])]);
        assert_eq!(
            smallest_cover_in(&needed(&["x"]), &graph).roles,
            vec!["Narrow"]
        );
    }

    #[test]
    fn permissions_no_role_grants_are_named() {
        let graph = RoleGraph::new(&[role("R", &["x"])]);
        let cover = smallest_cover_in(&needed(&["x", "nobody.grants.this"]), &graph);
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
            smallest_cover_in(&needed(&["x"]), &graph).roles,
            vec!["API Writer"]
        );
    }

    /// The smallest cover by trying every subset, smallest first: least excess,
    /// then names. What the branching search must find.
    fn brute_force(needed: &BTreeSet<String>, graph: &RoleGraph) -> Option<Vec<String>> {
        let candidates: Vec<(String, BTreeSet<String>)> = graph
            .api_roles()
            .map(|role| {
                let mut grants = graph.grants([role]).api;
                grants.retain(|g| !broad(g));
                (role.to_string(), grants)
            })
            .filter(|(_, grants)| needed.iter().any(|p| covers(grants, p)))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let coverable: Vec<&String> = needed
            .iter()
            .filter(|p| candidates.iter().any(|(_, g)| covers(g, p)))
            .collect();
        let n = candidates.len();
        for size in 1..=n {
            let best = (0u32..1 << n)
                .filter(|m| m.count_ones() as usize == size)
                .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect::<Vec<_>>())
                .filter(|chosen| {
                    coverable
                        .iter()
                        .all(|p| chosen.iter().any(|&i| covers(&candidates[i].1, p)))
                })
                .map(|chosen| {
                    let granted: BTreeSet<&String> =
                        chosen.iter().flat_map(|&i| &candidates[i].1).collect();
                    (granted.len().saturating_sub(coverable.len()), chosen)
                })
                .min();
            if let Some((_, chosen)) = best {
                return Some(chosen.iter().map(|&i| candidates[i].0.clone()).collect());
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn the_branching_search_finds_what_trying_every_subset_finds(
            roles in proptest::collection::vec(proptest::collection::btree_set(0..9u8, 1..5), 1..9),
            wanted in proptest::collection::btree_set(0..10u8, 1..7),
        ) {
            let defs: Vec<RoleDef> = roles
                .iter()
                .enumerate()
                .map(|(i, perms)| {
                    let perms: Vec<String> = perms.iter().map(|p| format!("p{p}")).collect();
                    let perms: Vec<&str> = perms.iter().map(String::as_str).collect();
                    role(&format!("R{i}"), &perms)
                })
                .collect();
            let graph = RoleGraph::new(&defs);
            let wanted: BTreeSet<String> = wanted.iter().map(|p| format!("p{p}")).collect();
            let cover = smallest_cover_in(&wanted, &graph);
            proptest::prop_assert!(cover.exact);
            // Permissions not made for are matched when asked, alike.
            let unasked = smallest_cover(&wanted, &Candidates::of(&graph, &BTreeSet::new()));
            proptest::prop_assert_eq!(&unasked, &cover);
            let expected = brute_force(&wanted, &graph).unwrap_or_default();
            proptest::prop_assert_eq!(cover.roles, expected);
        }
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
        let cover = smallest_cover_in(&want.iter().cloned().collect(), &graph);
        assert!(!cover.exact);
        assert!(cover.uncoverable.is_empty());
        let granted: BTreeSet<String> = graph.grants(cover.roles.iter().map(String::as_str)).api;
        assert!(want.iter().all(|p| granted.contains(p)));
    }
}
