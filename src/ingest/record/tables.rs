//! Mapping decoded records onto the small tables: tokens, role snapshots, roles
//! and policies.

use anyhow::Result;
use indicatif::ProgressBar;

use super::rbac;
use crate::ingest::fold::aggregate::{Aggregates, BadRecord, Quarantined, TableStats};
use crate::ingest::skip_unreadable;
use crate::ingest::source::decode::SizeLimits;
use crate::ingest::source::input::InputFile;
use crate::ingest::source::open_source;
use crate::model::Position;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::ingest::record::fields::{self, FieldMap, Skip};
use crate::model::{Policy, RoleBinding, RoleDef, Table, Token};

fn required_text(record: &Value, map: &FieldMap, name: &str) -> Result<String, Skip> {
    map.get(record, name).and_then(fields::text).ok_or_else(|| {
        Skip::new(
            "missing field",
            format!(
                "no `{name}` field: this table uses the canonical names of docs/input-formats.md"
            ),
        )
    })
}

fn optional_list(record: &Value, map: &FieldMap, name: &str) -> Result<Vec<String>, Skip> {
    map.get(record, name).map_or(Ok(Vec::new()), fields::list)
}

/// One issued token.
pub fn token_from_record(record: &Value, map: &FieldMap) -> Result<Token, Skip> {
    Ok(Token {
        token_id: required_text(record, map, "token_id")?,
        principal: required_text(record, map, "principal")?,
        scopes: optional_list(record, map, "scopes")?,
        issued_at: fields::timestamp(map.get(record, "issued_at").ok_or_else(|| {
            Skip::new(
                "missing field",
                "no `issued_at` field: this table uses the canonical names of docs/input-formats.md",
            )
        })?)?,
        expires_at: map
            .get(record, "expires_at")
            .map(fields::timestamp)
            .transpose()?,
    })
}

/// One binding of a role snapshot. An empty or absent `role` records a principal
/// that held nothing at that instant.
pub fn binding_from_record(record: &Value, map: &FieldMap) -> Result<RoleBinding, Skip> {
    Ok(RoleBinding {
        snapshot_at: fields::timestamp(map.get(record, "snapshot_at").ok_or_else(|| {
            Skip::new(
                "missing field",
                "no `snapshot_at` field: this table uses the canonical names of docs/input-formats.md",
            )
        })?)?,
        principal: required_text(record, map, "principal")?,
        role: map
            .get(record, "role")
            .and_then(fields::text)
            .unwrap_or_default(),
        data_scope: map
            .get(record, "data_scope")
            .map(fields::list)
            .transpose()?,
    })
}

/// One role definition; `plane` defaults to `api`. A `snapshot_at` dates the
/// definition: the role is read as of each snapshot.
pub fn role_from_record(record: &Value, map: &FieldMap) -> Result<RoleDef, Skip> {
    Ok(RoleDef {
        role: required_text(record, map, "role")?,
        permissions: optional_list(record, map, "permissions")?,
        inherits: optional_list(record, map, "inherits")?,
        plane: map
            .get(record, "plane")
            .and_then(fields::text)
            .map_or_else(|| "api".to_string(), |p| p.to_ascii_lowercase()),
        defined_at: map
            .get(record, "snapshot_at")
            .map(fields::timestamp)
            .transpose()?,
        denies: Vec::new(),
    })
}

/// One endpoint rule. `fields` is an object `{field: permission}` or, in CSV, a
/// string `field=permission field2=permission2`.
pub fn policy_from_record(record: &Value, map: &FieldMap) -> Result<Policy, Skip> {
    let all_of = optional_list(record, map, "all_of")?;
    let any_of = optional_list(record, map, "any_of")?;
    let field_rules = match map.get(record, "fields") {
        None => BTreeMap::new(),
        Some(Value::Object(rules)) => rules
            .iter()
            .filter_map(|(field, perm)| Some((field.clone(), fields::text(perm)?)))
            .collect(),
        Some(Value::String(s)) => s
            .split_whitespace()
            .map(|pair| {
                pair.split_once('=')
                    .map(|(f, p)| (f.to_string(), p.to_string()))
                    .ok_or_else(|| {
                        Skip::new(
                            "bad value",
                            format!("field rule {pair:?} is not field=permission"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(Skip::new(
                "bad value",
                format!("policy fields {other} are not field=permission rules"),
            ))
        }
    };
    let data_scoped = match map.get(record, "data_scoped") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => matches!(fields::text(v).as_deref(), Some("true" | "1" | "yes")),
    };
    Ok(Policy {
        method: required_text(record, map, "method")?.to_ascii_uppercase(),
        path: required_text(record, map, "path")?,
        all_of,
        any_of,
        fields: field_rules,
        data_scoped,
    })
}

type ParseFn<T> = fn(&Value, &FieldMap) -> Result<T, Skip>;

/// The instant a dump's file name carries: `…2026-11-20T08-00-00Z…`,
/// `…2026-11-20T08:00:00Z…`, `…20261120T080000Z…` or a date alone (midnight
/// UTC).
pub fn snapshot_instant(path: &std::path::Path) -> Option<crate::model::Millis> {
    static STAMP: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(\d{4})-?(\d{2})-?(\d{2})(?:[T_](\d{2})[-:]?(\d{2})[-:]?(\d{2})Z?)?")
            .expect("stamp pattern compiles")
    });
    let name = path.file_name()?.to_str()?;
    let c = STAMP.captures(name)?;
    let part = |i: usize| c.get(i).map_or("00", |m| m.as_str());
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &c[1],
        &c[2],
        &c[3],
        part(4),
        part(5),
        part(6)
    );
    fields::timestamp(&Value::String(text)).ok()
}

/// Whether a path given on the command line names this input.
fn same_file(given: &std::path::Path, input: &std::path::Path) -> bool {
    given == input
        || std::fs::canonicalize(given)
            .ok()
            .zip(std::fs::canonicalize(input).ok())
            .is_some_and(|(a, b)| a == b)
}

/// A platform's bindings with every principal of any dump present in every
/// dump: one absent from a dump held nothing at its instant.
fn complete_history(mut bindings: Vec<RoleBinding>) -> Vec<RoleBinding> {
    use std::collections::BTreeSet;
    let instants: BTreeSet<crate::model::Millis> = bindings.iter().map(|b| b.snapshot_at).collect();
    if instants.len() < 2 {
        return bindings;
    }
    let present: BTreeSet<(String, crate::model::Millis)> = bindings
        .iter()
        .map(|b| (b.principal.clone(), b.snapshot_at))
        .collect();
    let principals: BTreeSet<String> = present.iter().map(|(p, _)| p.clone()).collect();
    for principal in &principals {
        for &at in &instants {
            if !present.contains(&(principal.clone(), at)) {
                bindings.push(RoleBinding {
                    snapshot_at: at,
                    principal: principal.clone(),
                    role: String::new(),
                    data_scope: None,
                });
            }
        }
    }
    bindings
}

/// Reads the small tables, sequentially and whole, keeping their counts and bad records.
pub(crate) struct SmallTables<'a> {
    pub(crate) files: &'a [InputFile],
    pub(crate) map: &'a FieldMap,
    pub(crate) progress: &'a ProgressBar,
    pub(crate) stats: BTreeMap<Table, TableStats>,
    pub(crate) bad: Vec<BadRecord>,
    /// Skipped rows, when `--quarantine` asks for them.
    pub(crate) quarantine: Option<Vec<Quarantined>>,
    pub(crate) limits: SizeLimits,
    /// `--snapshot-at FILE=TIME`: instants of IAM exports by file.
    pub(crate) snapshot_at: &'a [(std::path::PathBuf, crate::model::Millis)],
}

impl SmallTables<'_> {
    /// Reads the IAM state exports (Kubernetes RBAC dumps, AWS authorization
    /// details) into role definitions (aggregation followed) and bindings.
    ///
    /// A dump is the state at the instant its file name carries
    /// ([`snapshot_instant`]), else from the beginning of the logs. Dumps of
    /// one platform taken at several instants form a history: a principal
    /// missing from a later dump held nothing then.
    pub(crate) fn read_rbac(&mut self) -> Result<(Vec<RoleDef>, Vec<RoleBinding>)> {
        let objects =
            self.read_located(Table::Rbac, |record, _| rbac::object_from_record(record))?;
        let mut roles = Vec::new();
        // Bindings per platform: histories are per platform.
        let mut bindings: BTreeMap<rbac::Platform, Vec<RoleBinding>> = BTreeMap::new();
        // Each file's instant, once: the one given for it, else its name's.
        let instants: Vec<Option<crate::model::Millis>> = self
            .files
            .iter()
            .map(|f| {
                let path = f.path.as_deref().filter(|_| f.table == Table::Rbac)?;
                self.snapshot_at
                    .iter()
                    .find(|(given, _)| same_file(given, path))
                    .map(|(_, at)| *at)
                    .or_else(|| snapshot_instant(path))
            })
            .collect();
        for (file, object) in objects {
            let instant = instants[file];
            // The data's own instant (a Config item's capture time) wins.
            let dated = |mut def: RoleDef| {
                def.defined_at = def.defined_at.or(instant);
                def
            };
            let at = |mut b: RoleBinding| {
                if b.snapshot_at == 0 {
                    b.snapshot_at = instant.unwrap_or(0);
                }
                b
            };
            match object {
                rbac::RbacObject::Role(def, aggregation) => roles.push((dated(def), aggregation)),
                rbac::RbacObject::Bindings(b) => bindings
                    .entry(rbac::Platform::Kubernetes)
                    .or_default()
                    .extend(b.into_iter().map(at)),
                rbac::RbacObject::Cloud(platform, defs, b) => {
                    roles.extend(defs.into_iter().map(|d| (dated(d), Default::default())));
                    bindings
                        .entry(platform)
                        .or_default()
                        .extend(b.into_iter().map(at));
                }
            }
        }
        rbac::aggregate(&mut roles);
        // Config items are per-resource histories already: completing them
        // across resources would take every role away at every capture.
        let bindings = bindings
            .into_iter()
            .flat_map(|(platform, b)| match platform {
                rbac::Platform::AwsConfig => b,
                _ => complete_history(b),
            })
            .collect();
        Ok((roles.into_iter().map(|(def, _)| def).collect(), bindings))
    }

    pub(crate) fn read<T>(&mut self, table: Table, parse: ParseFn<T>) -> Result<Vec<T>> {
        let rows = self.read_located(table, parse)?;
        Ok(rows.into_iter().map(|(_, row)| row).collect())
    }

    /// [`SmallTables::read`], with the index of the file each row came from.
    fn read_located<T>(&mut self, table: Table, parse: ParseFn<T>) -> Result<Vec<(usize, T)>> {
        let mut rows = Vec::new();
        let mut skips = Aggregates::default();
        skips.quarantine = self.quarantine.take();
        for (file, input) in self
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.table == table)
        {
            let mut source = match open_source(input, self.progress, self.limits) {
                Ok(source) => source,
                Err(e) => {
                    skip_unreadable(input, e, &mut skips, Position::new(file, 0, 0))?;
                    continue;
                }
            };
            while let Some((line, record)) = source.next_record() {
                let position = Position::new(file, 0, line);
                match record
                    .and_then(|r| parse(&r, self.map).map_err(|s| s.with_raw(r.to_string())))
                {
                    Ok(row) => rows.push((file, row)),
                    Err(skip) => skips.add_skip(position, skip),
                }
            }
        }
        let mut stats = skips.stats;
        stats.used = rows.len() as u64;
        stats.read += stats.used;
        self.stats.insert(table, stats);
        self.bad.extend(skips.bad);
        self.quarantine = skips.quarantine;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_read_from_json_and_csv_shapes() {
        let map = FieldMap::default();
        let token = token_from_record(
            &json!({"token_id": "t1", "principal": "svc", "scopes": "a b", "issued_at": "2026-11-20T00:00:00Z"}),
            &map,
        )
        .unwrap();
        assert_eq!((token.scopes.len(), token.expires_at), (2, None));

        let binding =
            binding_from_record(&json!({"snapshot_at": 0, "principal": "svc"}), &map).unwrap();
        assert_eq!(binding.role, "");

        let role = role_from_record(
            &json!({"role": "R", "permissions": ["p"], "plane": "Application"}),
            &map,
        )
        .unwrap();
        assert!(!role.grants_api());

        let policy = policy_from_record(
            &json!({"method": "put", "path": "/w/{id}", "all_of": "w.update", "fields": "cost=w.cost assignee=w.assign", "data_scoped": "true"}),
            &map,
        )
        .unwrap();
        assert_eq!(policy.fields["cost"], "w.cost");
        assert!(policy.data_scoped);
        assert_eq!(policy.method, "PUT");
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        let map = FieldMap::default();
        assert_eq!(
            token_from_record(&json!({"token_id": "t"}), &map)
                .unwrap_err()
                .kind,
            "missing field"
        );
        let bad_rule = policy_from_record(
            &json!({"method": "GET", "path": "/", "fields": "cost"}),
            &map,
        );
        assert_eq!(bad_rule.unwrap_err().kind, "bad value");
    }
}
