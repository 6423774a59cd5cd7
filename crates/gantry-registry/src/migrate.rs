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
        2,
        "hardening",
        include_str!("../migrations/sqlite/0002_hardening.sql"),
    ),
    (
        4,
        "mirror",
        include_str!("../migrations/sqlite/0004_mirror.sql"),
    ),
];

pub const POSTGRES: Embedded = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "hardening",
        include_str!("../migrations/postgres/0002_hardening.sql"),
    ),
    (
        4,
        "mirror",
        include_str!("../migrations/postgres/0004_mirror.sql"),
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
        assert_eq!(latest(SQLITE), 4);
    }

    /// A database a build without 0002 brought to version 4 (0001 + 0004: `main` before the
    /// hardening merge) gets 0002 when a later build opens it: sqlx applies every listed version
    /// not yet recorded, not only those above the newest.
    #[tokio::test]
    async fn a_skipped_lower_version_is_applied_later() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        const WITHOUT_2: Embedded = &[SQLITE[0], SQLITE[2]];
        assert_eq!(WITHOUT_2.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 4]);
        migrator(WITHOUT_2).run(&pool).await.unwrap();
        let has_buckets = || async {
            sqlx::query("SELECT 1 FROM sqlite_master WHERE name = 'rate_limit_buckets'")
                .fetch_optional(&pool)
                .await
                .unwrap()
                .is_some()
        };
        assert!(!has_buckets().await);
        migrator(SQLITE).run(&pool).await.unwrap();
        assert!(has_buckets().await);
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(applied, [1, 2, 4]);
    }
}
