//! Schema migrations for both engines, embedded in the binary. Each engine has its own directory
//! (`migrations/sqlite/`, `migrations/postgres/`) with the same version numbers and the same table and
//! column names. sqlx's migrator records them in `_sqlx_migrations`, checksums each applied file and,
//! on PostgreSQL, holds an advisory lock while migrating, so several instances may start at once.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

/// (version, description, SQL).
type Embedded = &'static [(i64, &'static str, &'static str)];

pub const SQLITE: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        4,
        "mirror",
        include_str!("../migrations/sqlite/0004_mirror.sql"),
    ),
    (
        5,
        "trustpub",
        include_str!("../migrations/sqlite/0005_trustpub.sql"),
    ),
];

pub const POSTGRES: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        4,
        "mirror",
        include_str!("../migrations/postgres/0004_mirror.sql"),
    ),
    (
        5,
        "trustpub",
        include_str!("../migrations/postgres/0005_trustpub.sql"),
    ),
];

/// The migrator for one engine's list. Checksums are computed from the SQL text exactly as
/// `sqlx migrate`/`sqlx::migrate!` compute them, so databases migrated by either agree.
pub fn migrator(list: Embedded) -> Migrator {
    let mut m = Migrator::DEFAULT;
    m.migrations = Cow::Owned(
        list.iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    Cow::Borrowed(*d),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect(),
    );
    m
}

/// The newest version in an embedded list (what `gantry-registry migrate` brings a database to).
pub fn latest(list: Embedded) -> i64 {
    list.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_the_same_versions_and_tables() {
        let versions = |l: Embedded| l.iter().map(|(v, d, _)| (*v, *d)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        let tables = |sql: &str| {
            let mut t: Vec<String> = sql
                .lines()
                .filter_map(|l| l.trim().strip_prefix("CREATE TABLE "))
                .map(|r| r.split_whitespace().next().unwrap_or("").to_owned())
                .collect();
            t.sort();
            t
        };
        for ((_, _, a), (_, _, b)) in SQLITE.iter().zip(POSTGRES) {
            assert_eq!(tables(a), tables(b));
            assert!(!tables(a).is_empty());
        }
        assert_eq!(latest(SQLITE), 5);
    }
}
