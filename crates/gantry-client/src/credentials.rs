//! Registry tokens the way cargo's `cargo:token` provider stores and finds them (spec §8.4–8.5):
//! `$CARGO_HOME/credentials.toml` (or the legacy `credentials`, preferred when present), environment
//! variables, and `.cargo/config.toml` files, in cargo's precedence order. Writing goes through a TOML
//! document edit so the user's other tables and comments survive, with mode 0600.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, value};

use crate::config::CargoConfig;

/// `crates-io` is spelt `[registry]` in credentials and config; alternatives are `[registries.NAME]`.
pub const CRATES_IO: &str = gantry_protocol::crates_io::REGISTRY_NAME;

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("failed to read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not parse TOML in `{}`\n\nCaused by:\n  {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("failed to write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("please provide a non-empty token")]
    EmptyToken,
    #[error(
        "token contains invalid characters.\nOnly printable ISO-8859-1 characters are allowed as it is sent in a HTTPS header."
    )]
    InvalidToken,
}

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env(String),
    CredentialsFile(PathBuf),
    /// A `.cargo/config.toml` value (or `--config`).
    Config(crate::config::Origin),
}

/// The credentials file cargo would use, and a warning when both spellings exist.
pub fn credentials_path(home: &Path) -> (PathBuf, Option<String>) {
    let legacy = home.join("credentials");
    let current = home.join("credentials.toml");
    match (legacy.is_file(), current.is_file()) {
        (true, true) => {
            let warning = format!(
                "both `{}` and `{}` exist. Using `{}`",
                legacy.display(),
                current.display(),
                legacy.display()
            );
            (legacy, Some(warning))
        }
        (true, false) => (legacy, None),
        _ => (current, None),
    }
}

/// Cargo's check before a token goes into an HTTP header.
pub fn validate_token(token: &str) -> Result<(), CredentialsError> {
    if token.is_empty() {
        return Err(CredentialsError::EmptyToken);
    }
    if token
        .bytes()
        .any(|b| !(b == b'\t' || (0x20..=0x7e).contains(&b)))
    {
        return Err(CredentialsError::InvalidToken);
    }
    Ok(())
}

/// `CARGO_REGISTRY_TOKEN` / `CARGO_REGISTRIES_<NAME>_TOKEN`.
pub fn token_env_var(registry: &str) -> String {
    if registry == CRATES_IO {
        "CARGO_REGISTRY_TOKEN".to_owned()
    } else {
        format!(
            "CARGO_REGISTRIES_{}_TOKEN",
            registry.to_ascii_uppercase().replace('-', "_")
        )
    }
}

/// The `cargo:token` lookup: environment, then the credentials file, then config files.
pub fn find_token(
    config: &CargoConfig,
    registry: &str,
) -> Result<Option<(String, TokenSource)>, CredentialsError> {
    let var = token_env_var(registry);
    if let Some(t) = config.env_var(&var) {
        return Ok(Some((t.to_owned(), TokenSource::Env(var))));
    }
    let (path, _) = credentials_path(config.cargo_home());
    if let Some(doc) = read_doc(&path)? {
        if let Some(t) = table_for(doc.as_table(), registry)
            .and_then(|t| t.get("token"))
            .and_then(Item::as_str)
        {
            return Ok(Some((t.to_owned(), TokenSource::CredentialsFile(path))));
        }
        if registry == CRATES_IO
            && let Some(t) = doc.get("token").and_then(Item::as_str)
        {
            return Ok(Some((t.to_owned(), TokenSource::CredentialsFile(path))));
        }
    }
    let key = if registry == CRATES_IO {
        "registry.token".to_owned()
    } else {
        format!("registries.{registry}.token")
    };
    if let Ok(Some((t, origin))) = config.get_string(&key) {
        return Ok(Some((t, TokenSource::Config(origin))));
    }
    Ok(None)
}

/// `cargo login`: stores `token` for `registry`, moving a legacy root-level `token` under
/// `[registry]`, keeping everything else in the file.
pub fn save_token(home: &Path, registry: &str, token: &str) -> Result<PathBuf, CredentialsError> {
    validate_token(token)?;
    let (path, _) = credentials_path(home);
    let mut doc = read_doc(&path)?.unwrap_or_default();
    if let Some(legacy) = doc.remove("token")
        && table_for(doc.as_table(), CRATES_IO)
            .and_then(|t| t.get("token"))
            .is_none()
    {
        table_for_mut(&mut doc, CRATES_IO).insert("token", legacy);
    }
    table_for_mut(&mut doc, registry).insert("token", value(token));
    write_private(&path, &layout(doc))?;
    Ok(path)
}

/// The file's text after an edit. Cargo rewrites the file in its own layout; a file with comments
/// keeps them and its layout instead (cargo would drop them), any other is laid out as cargo does.
fn layout(mut doc: DocumentMut) -> String {
    let commented = doc.to_string().contains('#');
    if !commented {
        doc.fmt();
        doc.set_trailing("");
        for (_, item) in doc.iter_mut() {
            if let Some(table) = item.as_table_mut() {
                table.decor_mut().clear();
            }
        }
    }
    doc.to_string()
}

/// `cargo logout`: removes the token (and asymmetric-token keys); returns false if nothing was
/// stored. The now-empty table header stays, as cargo leaves it.
pub fn remove_token(home: &Path, registry: &str) -> Result<bool, CredentialsError> {
    let (path, _) = credentials_path(home);
    let Some(mut doc) = read_doc(&path)? else {
        return Ok(false);
    };
    let mut removed = false;
    if registry == CRATES_IO {
        removed |= doc.remove("token").is_some();
    }
    if let Some(table) = table_for_existing_mut(&mut doc, registry) {
        for key in ["token", "secret-key", "secret-key-subject"] {
            removed |= table.remove(key).is_some();
        }
    }
    if removed {
        write_private(&path, &doc.to_string())?;
    }
    Ok(removed)
}

fn read_doc(path: &Path) -> Result<Option<DocumentMut>, CredentialsError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CredentialsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    text.parse::<DocumentMut>()
        .map(Some)
        .map_err(|e| CredentialsError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

fn table_for<'a>(root: &'a Table, registry: &str) -> Option<&'a Table> {
    if registry == CRATES_IO {
        root.get("registry")?.as_table()
    } else {
        root.get("registries")?
            .as_table()?
            .get(registry)?
            .as_table()
    }
}

fn table_for_existing_mut<'a>(doc: &'a mut DocumentMut, registry: &str) -> Option<&'a mut Table> {
    if registry == CRATES_IO {
        doc.get_mut("registry")?.as_table_mut()
    } else {
        doc.get_mut("registries")?
            .as_table_mut()?
            .get_mut(registry)?
            .as_table_mut()
    }
}

fn table_for_mut<'a>(doc: &'a mut DocumentMut, registry: &str) -> &'a mut Table {
    let new_table = || {
        let mut t = Table::new();
        t.set_implicit(false);
        Item::Table(t)
    };
    let root = doc.as_table_mut();
    if registry == CRATES_IO {
        let item = root.entry("registry").or_insert_with(new_table);
        ensure_table(item)
    } else {
        let registries = root.entry("registries").or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        let registries = ensure_table(registries);
        ensure_table(registries.entry(registry).or_insert_with(new_table))
    }
}

fn ensure_table(item: &mut Item) -> &mut Table {
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    match item {
        Item::Table(t) => t,
        _ => unreachable!("replaced by a table just above"),
    }
}

/// Writes through a temporary file created with mode 0600 and renames it into place, so the token is
/// never readable by others, not even briefly, and a crash cannot truncate the file.
fn write_private(path: &Path, text: &str) -> Result<(), CredentialsError> {
    let err = |source| CredentialsError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".credentials-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(err)?;
    io::Write::write_all(tmp.as_file_mut(), text.as_bytes()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn login_writes_what_cargo_writes_and_logout_keeps_the_header() {
        let home = tempfile::tempdir().unwrap();
        fs::write(home.path().join("credentials.toml"), "token = \"legacy\"\n").unwrap();
        save_token(home.path(), CRATES_IO, "tok1").unwrap();
        let path = home.path().join("credentials.toml");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[registry]\ntoken = \"tok1\"\n"
        );
        save_token(home.path(), "alt", "tok2").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[registry]\ntoken = \"tok1\"\n\n[registries.alt]\ntoken = \"tok2\"\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(remove_token(home.path(), CRATES_IO).unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[registry]\n\n[registries.alt]\ntoken = \"tok2\"\n"
        );
        assert!(!remove_token(home.path(), CRATES_IO).unwrap());
    }

    #[test]
    fn login_lays_out_an_uncommented_file_as_cargo_does_and_keeps_comments() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join("credentials.toml");
        fs::write(&path, "\n    [registry]\n    token = \"old\"\n    ").unwrap();
        save_token(home.path(), CRATES_IO, "abcdefg").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[registry]\ntoken = \"abcdefg\"\n"
        );
        save_token(home.path(), "alt", "t2").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[registry]\ntoken = \"abcdefg\"\n\n[registries.alt]\ntoken = \"t2\"\n"
        );
        fs::write(&path, "# mine\n[registry]\ntoken = \"old\"\n").unwrap();
        save_token(home.path(), CRATES_IO, "new").unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# mine\n[registry]\ntoken = \"new\"\n"
        );
    }

    #[test]
    fn precedence_env_then_file_then_config() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        fs::create_dir_all(tmp.path().join("p/.cargo")).unwrap();
        fs::write(
            tmp.path().join("p/.cargo/config.toml"),
            "[registries.alt]\ntoken = \"cfg\"\n",
        )
        .unwrap();
        let mut env = BTreeMap::new();
        env.insert("CARGO_HOME".to_string(), home.display().to_string());
        let load = |env: &BTreeMap<String, String>| {
            CargoConfig::load_with_env(&tmp.path().join("p"), &[], env.clone()).unwrap()
        };
        assert_eq!(
            find_token(&load(&env), "alt").unwrap().unwrap().1,
            TokenSource::Config(crate::config::Origin::File(
                tmp.path().join("p/.cargo/config.toml")
            ))
        );
        save_token(&home, "alt", "file").unwrap();
        assert_eq!(find_token(&load(&env), "alt").unwrap().unwrap().0, "file");
        env.insert("CARGO_REGISTRIES_ALT_TOKEN".into(), "env".into());
        assert_eq!(find_token(&load(&env), "alt").unwrap().unwrap().0, "env");
        assert_eq!(find_token(&load(&env), CRATES_IO).unwrap(), None);
    }

    #[test]
    fn token_validation_texts() {
        assert_eq!(
            validate_token("").unwrap_err().to_string(),
            "please provide a non-empty token"
        );
        assert!(validate_token("a\u{1}b").is_err());
        assert!(validate_token("abc\tdef").is_ok());
    }
}
