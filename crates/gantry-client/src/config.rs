//! Cargo configuration as cargo 1.95 reads it: `--config` arguments, `CARGO_*` environment
//! variables, `.cargo/config.toml` (or legacy `.cargo/config`) in the current directory and every
//! ancestor, then `$CARGO_HOME/config.toml`. Earlier sources win for scalar values.
//!
//! Only lookups are provided (no merging of whole tables): every caller asks for one key, which keeps
//! the precedence rules in one place and lets relative paths resolve against the file that set them.

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

mod programs;

pub use programs::PathAndArgs;

/// cargo's test-only override of the crates.io index URL (see [`CargoConfig::crates_io_test_index`]).
pub const CRATES_IO_TEST_HOOK: &str = "__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not load Cargo configuration")]
    Read {
        #[source]
        source: Box<ConfigFileError>,
    },
    #[error(
        "failed to parse value from --config argument `{arg}` as a dotted key expression\n\nCaused by:\n  {message}"
    )]
    BadArgument { arg: String, message: String },
    /// cargo's words for a value of the wrong type (`origin` as [`Origin::definition`] puts it;
    /// `found` is TOML's type name, after cargo's own "a").
    #[error("error in {origin}: `{key}` expected {expected}, but found a {found}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
        origin: String,
    },
    #[error("could not determine the cargo home directory: set CARGO_HOME")]
    NoHome,
    /// An integer outside the key's type, in cargo's words (the cause names the type).
    #[error("error in {origin}: could not load config key `{key}`")]
    OutOfRange {
        key: String,
        origin: String,
        #[source]
        source: OutOfRange,
    },
}

/// An integer value that does not fit the type a key has in cargo (`u32`, `u64`).
#[derive(Debug, thiserror::Error)]
#[error("invalid value: integer `{value}`, expected {ty}")]
pub struct OutOfRange {
    pub value: i64,
    pub ty: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("could not parse TOML configuration in `{}`\n\nCaused by:\n  {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    /// A float or a date/time: cargo's configuration has no such values, and refuses the file.
    #[error("failed to load TOML configuration from `{}`", path.display())]
    UnsupportedType {
        path: PathBuf,
        #[source]
        source: UnsupportedValue,
    },
}

/// Where in a config file a value of a type cargo does not read sits.
#[derive(Debug, thiserror::Error)]
#[error("failed to parse config at `{key}`")]
pub struct UnsupportedValue {
    /// Dotted, with `[i]` for array elements.
    pub key: String,
    #[source]
    pub kind: UnsupportedKind,
}

/// The TOML type (`float`, `datetime`).
#[derive(Debug, thiserror::Error)]
#[error("unsupported TOML configuration type `{0}`")]
pub struct UnsupportedKind(pub &'static str);

/// Where a value came from; relative paths resolve against `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A config file; paths are relative to the directory holding its `.cargo` directory.
    File(PathBuf),
    /// An environment variable; paths are relative to the current directory.
    Env(String),
    /// A `--config` argument; paths are relative to the current directory.
    Cli,
}

impl Origin {
    /// Where a value is defined, as cargo's errors say it: a file's path (no quotes), else as
    /// `Display` has it.
    pub fn definition(&self) -> String {
        match self {
            Origin::File(p) => p.display().to_string(),
            other => other.to_string(),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "`{}`", p.display()),
            Origin::Env(v) => write!(f, "environment variable `{v}`"),
            Origin::Cli => f.write_str("--config cli option"),
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    table: Table,
    origin: Origin,
}

/// The user's cargo configuration, resolved from a working directory.
#[derive(Debug, Clone)]
pub struct CargoConfig {
    cwd: PathBuf,
    home: PathBuf,
    /// Highest precedence first: CLI, then files nearest the cwd, then `$CARGO_HOME`.
    layers: Vec<Layer>,
    env: BTreeMap<String, String>,
}

impl CargoConfig {
    /// Loads configuration the way cargo does for a command run in `cwd`.
    pub fn load(cwd: &Path, cli_args: &[String]) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = env::vars().collect();
        Self::load_with_env(cwd, cli_args, env)
    }

    pub fn load_with_env(
        cwd: &Path,
        cli_args: &[String],
        env: BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let home = cargo_home(&env, cwd)?;
        let mut layers = Vec::new();
        for arg in cli_args {
            layers.push(parse_cli_arg(arg, cwd)?);
        }
        let mut seen_home = false;
        // cargo's test hook `__CARGO_TEST_ROOT` ends the upward search there (cargo-util's
        // `PathAncestors`); only cargo's own test suite sets it.
        let stop = env.get("__CARGO_TEST_ROOT").map(Path::new);
        let mut past_stop = false;
        let within_test_root = |dir: &&Path| {
            let take = !past_stop;
            past_stop |= stop == Some(*dir);
            take
        };
        for dir in cwd.ancestors().take_while(within_test_root) {
            let dot_cargo = dir.join(".cargo");
            if dot_cargo == home {
                seen_home = true;
            }
            if let Some(file) = config_file_in(&dot_cargo) {
                layers.push(read_layer(&file)?);
            }
        }
        if !seen_home && let Some(file) = config_file_in(&home) {
            layers.push(read_layer(&file)?);
        }
        Ok(CargoConfig {
            cwd: cwd.to_owned(),
            home,
            layers,
            env,
        })
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    pub fn cargo_home(&self) -> &Path {
        &self.home
    }

    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }

    /// Every environment variable, as the command saw them.
    pub fn env_vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A string value (env `CARGO_A_B_C` for key `a.b-c` wins over files; `--config` over both).
    pub fn get_string(&self, key: &str) -> Result<Option<(String, Origin)>, ConfigError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::String(s), origin)) => Ok(Some((s, origin))),
            Some((other, origin)) => Err(ConfigError::WrongType {
                key: key.to_owned(),
                expected: "a string",
                found: other.type_str(),
                origin: origin.definition(),
            }),
        }
    }

    /// A list of strings; an environment value is split on whitespace, as cargo does.
    pub fn get_string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::String(s), _)) => {
                Ok(Some(s.split_whitespace().map(str::to_owned).collect()))
            }
            Some((Value::Array(items), origin)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(ConfigError::WrongType {
                        key: key.to_owned(),
                        expected: "a list of strings",
                        found: other.type_str(),
                        origin: origin.definition(),
                    }),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some((other, origin)) => Err(ConfigError::WrongType {
                key: key.to_owned(),
                expected: "a list of strings",
                found: other.type_str(),
                origin: origin.definition(),
            }),
        }
    }

    /// A key cargo reads as a `u32` (`net.retry`), with cargo's errors.
    pub fn get_u32(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        self.get_unsigned(key, "u32")
    }

    /// A key cargo reads as a `u64` (`http.timeout`), with cargo's errors.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>, ConfigError> {
        self.get_unsigned(key, "u64")
    }

    /// An unsigned integer of type `ty`: a TOML integer (or, from the environment, a string
    /// holding one). Another type is "expected an integer"; a value the type cannot hold is
    /// cargo's "could not load config key" with the value and the type.
    fn get_unsigned<T: TryFrom<i64>>(
        &self,
        key: &str,
        ty: &'static str,
    ) -> Result<Option<T>, ConfigError> {
        let wrong_type = |v: &Value, origin: &Origin| ConfigError::WrongType {
            key: key.to_owned(),
            expected: "an integer",
            found: v.type_str(),
            origin: origin.definition(),
        };
        let (value, origin) = match self.get(key)? {
            None => return Ok(None),
            Some((Value::Integer(i), origin)) => (i, origin),
            Some((Value::String(s), origin @ Origin::Env(_))) => match s.trim().parse::<i64>() {
                Ok(i) => (i, origin),
                Err(_) => return Err(wrong_type(&Value::String(s.clone()), &origin)),
            },
            Some((other, origin)) => return Err(wrong_type(&other, &origin)),
        };
        T::try_from(value)
            .map(Some)
            .map_err(|_| ConfigError::OutOfRange {
                key: key.to_owned(),
                origin: origin.definition(),
                source: OutOfRange { value, ty },
            })
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.get(key)? {
            None => Ok(None),
            Some((Value::Boolean(b), _)) => Ok(Some(b)),
            Some((other, origin)) => Err(ConfigError::WrongType {
                key: key.to_owned(),
                expected: "a boolean",
                found: other.type_str(),
                origin: origin.definition(),
            }),
        }
    }

    /// A path value, made absolute against where it was defined (cargo's `ConfigRelativePath`).
    pub fn get_path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(self
            .get_string(key)?
            .map(|(value, origin)| self.resolve_path(&value, &origin)))
    }

    /// Names of the registries configured under `[registries]` in any file or `--config`.
    pub fn registry_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .filter_map(|l| l.table.get("registries").and_then(Value::as_table))
            .flat_map(|t| t.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Keys of `[registries.NAME]` (and, for crates.io, of `[registry]`) that cargo does not read,
    /// each with where it is written (cargo warns about them once it reads the registry's
    /// settings): `(key, definition)` in file order.
    pub fn registry_unused_keys(&self, name: &str) -> Vec<(String, String)> {
        const REGISTRIES: &[&str] = &[
            "index",
            "token",
            "credential-provider",
            "secret-key",
            "secret-key-subject",
            "default",
            "protocol",
        ];
        const REGISTRY: &[&str] = &[
            "index",
            "token",
            "credential-provider",
            "global-credential-providers",
            "secret-key",
            "secret-key-subject",
            "default",
        ];
        let mut unused = self.unused_keys(&["registries", name], REGISTRIES);
        if name == crate::credentials::CRATES_IO {
            unused.extend(self.unused_keys(&["registry"], REGISTRY));
        }
        unused
    }

    fn unused_keys(&self, path: &[&str], known: &[&str]) -> Vec<(String, String)> {
        let prefix = path.join(".");
        self.layers
            .iter()
            .filter_map(|l| Some((lookup(&l.table, path)?.as_table()?, &l.origin)))
            .flat_map(|(table, origin)| {
                table
                    .keys()
                    .filter(|k| !known.contains(&k.as_str()))
                    .map(|k| (format!("{prefix}.{k}"), origin.definition()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The index URL configured for registry `name` (`registries.NAME.index` or
    /// `CARGO_REGISTRIES_NAME_INDEX`), as written (with any `sparse+` prefix).
    pub fn registry_index(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .get_string(&format!("registries.{name}.index"))?
            .map(|(v, _)| v))
    }

    /// If `[source.crates-io] replace-with` redirects crates.io, the replacement described the way
    /// `cargo package` names it in its refusal: `dir <path>`, ``registry `<path>` `` for a local
    /// registry, or ``registry `<name>` `` for a remote one.
    pub fn crates_io_replacement(&self) -> Result<Option<String>, ConfigError> {
        let Some((name, _)) = self.crates_io_replace_with()? else {
            return Ok(None);
        };
        if let Some(dir) = self.get_path(&format!("source.{name}.directory"))? {
            return Ok(Some(format!("dir {}", dir.display())));
        }
        if let Some(dir) = self.get_path(&format!("source.{name}.local-registry"))? {
            return Ok(Some(format!("registry `{}`", dir.display())));
        }
        Ok(Some(format!("registry `{name}`")))
    }

    /// cargo's test hook (not a user setting): cargo's own test suite points "crates.io" at a
    /// local registry with `__CARGO_TEST_CRATES_IO_URL_DO_NOT_USE_THIS`. Cargo then reads crates.io
    /// from that URL and treats a registry with that URL as crates.io itself. Gantry honours it
    /// the same way so that suite can measure it; nothing else sets it.
    pub fn crates_io_test_index(&self) -> Option<&str> {
        self.env_var(CRATES_IO_TEST_HOOK).filter(|v| !v.is_empty())
    }

    /// The source that replaces the registry at `index_url` (a `[source.NAME]` table with
    /// `registry = "<index_url>"` and `replace-with`), as `cargo vendor` configures one for every
    /// registry it vendors. Such names are often the URL itself, so tables are matched by their
    /// `registry` value, never looked up by a dotted key.
    pub fn registry_replaced_with(&self, index_url: &str) -> Option<String> {
        let want = index_url.trim_end_matches('/');
        self.layers
            .iter()
            .filter_map(|l| l.table.get("source").and_then(Value::as_table))
            .flat_map(|sources| sources.values().filter_map(Value::as_table))
            .find(|t| {
                t.get("registry")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.trim_end_matches('/') == want)
                    && t.contains_key("replace-with")
            })
            .and_then(|t| t.get("replace-with")?.as_str().map(str::to_owned))
    }

    /// `[source.crates-io] replace-with`, except a replacement whose URL is the test hook's
    /// crates.io URL: cargo compares source ids by URL, so that one *is* crates.io, not a
    /// replacement of it.
    pub fn crates_io_replace_with(&self) -> Result<Option<(String, Origin)>, ConfigError> {
        let Some((name, origin)) = self.get_string("source.crates-io.replace-with")? else {
            return Ok(None);
        };
        if let Some(test_index) = self.crates_io_test_index() {
            let url = match self.get_string(&format!("source.{name}.registry"))? {
                Some((url, _)) => Some(url),
                None => self.registry_index(&name)?,
            };
            let same = |u: &str| u.trim_end_matches('/') == test_index.trim_end_matches('/');
            if url.as_deref().is_some_and(same) {
                return Ok(None);
            }
        }
        Ok(Some((name, origin)))
    }

    fn resolve_path(&self, value: &str, origin: &Origin) -> PathBuf {
        let path = Path::new(value);
        if path.is_absolute() {
            return path.to_owned();
        }
        match origin {
            // `<dir>/.cargo/config.toml` → relative to `<dir>`.
            Origin::File(file) => file
                .parent()
                .and_then(Path::parent)
                .map(|d| d.join(path))
                .unwrap_or_else(|| self.cwd.join(path)),
            Origin::Env(_) | Origin::Cli => self.cwd.join(path),
        }
    }

    fn get(&self, key: &str) -> Result<Option<(Value, Origin)>, ConfigError> {
        let parts: Vec<&str> = key.split('.').collect();
        // `--config` beats the environment, which beats files.
        let mut layers = self.layers.iter();
        for layer in layers.by_ref().take_while(|l| l.origin == Origin::Cli) {
            if let Some(v) = lookup(&layer.table, &parts) {
                return Ok(Some((v.clone(), layer.origin.clone())));
            }
        }
        let env_name = env_key(key);
        if let Some(v) = self.env.get(&env_name) {
            return Ok(Some((Value::String(v.clone()), Origin::Env(env_name))));
        }
        for layer in self.layers.iter().filter(|l| l.origin != Origin::Cli) {
            if let Some(v) = lookup(&layer.table, &parts) {
                return Ok(Some((v.clone(), layer.origin.clone())));
            }
        }
        Ok(None)
    }
}

fn lookup<'a>(table: &'a Table, parts: &[&str]) -> Option<&'a Value> {
    let (last, path) = parts.split_last()?;
    let mut t = table;
    for p in path {
        t = t.get(*p)?.as_table()?;
    }
    t.get(*last)
}

/// `build.target-dir` → `CARGO_BUILD_TARGET_DIR`.
pub fn env_key(key: &str) -> String {
    let mut s = String::from("CARGO_");
    s.extend(key.chars().map(|c| match c {
        '.' | '-' => '_',
        c => c.to_ascii_uppercase(),
    }));
    s
}

fn cargo_home(env: &BTreeMap<String, String>, cwd: &Path) -> Result<PathBuf, ConfigError> {
    if let Some(h) = env.get("CARGO_HOME").filter(|h| !h.is_empty()) {
        return Ok(cwd.join(h));
    }
    env.get("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| Path::new(h).join(".cargo"))
        .ok_or(ConfigError::NoHome)
}

fn config_file_in(dot_cargo: &Path) -> Option<PathBuf> {
    // Cargo prefers the legacy extension-less name when both exist.
    let legacy = dot_cargo.join("config");
    if legacy.is_file() {
        return Some(legacy);
    }
    let toml = dot_cargo.join("config.toml");
    toml.is_file().then_some(toml)
}

fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let wrap = |message: String| ConfigError::Read {
        source: Box::new(ConfigFileError::Syntax {
            path: path.to_owned(),
            message,
        }),
    };
    let text = fs::read_to_string(path).map_err(|e| wrap(e.to_string()))?;
    let table: Table = toml::from_str(&text).map_err(|e| wrap(e.to_string()))?;
    if let Some((key, kind)) = unsupported_value(&table, "") {
        return Err(ConfigError::Read {
            source: Box::new(ConfigFileError::UnsupportedType {
                path: path.to_owned(),
                source: UnsupportedValue {
                    key,
                    kind: UnsupportedKind(kind),
                },
            }),
        });
    }
    Ok(Layer {
        table,
        origin: Origin::File(path.to_owned()),
    })
}

/// The first float or date/time in `table` (in file order), with its dotted key (`a.b[0]` for an
/// array element), as cargo names it when it refuses the file.
fn unsupported_value(table: &Table, prefix: &str) -> Option<(String, &'static str)> {
    fn check(value: &Value, key: String) -> Option<(String, &'static str)> {
        match value {
            Value::Float(_) => Some((key, "float")),
            Value::Datetime(_) => Some((key, "datetime")),
            Value::Table(t) => unsupported_value(t, &key),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| check(v, format!("{key}[{i}]"))),
            Value::String(_) | Value::Integer(_) | Value::Boolean(_) => None,
        }
    }
    table.iter().find_map(|(k, v)| {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        check(v, key)
    })
}

fn parse_cli_arg(arg: &str, cwd: &Path) -> Result<Layer, ConfigError> {
    let as_path = cwd.join(arg);
    if as_path.is_file() && (arg.ends_with(".toml") || !arg.contains('=')) {
        return read_layer(&as_path);
    }
    let table: Table = toml::from_str(arg).map_err(|e| ConfigError::BadArgument {
        arg: arg.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Layer {
        table,
        origin: Origin::Cli,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)], home: &Path) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.insert("CARGO_HOME".into(), home.display().to_string());
        m
    }

    #[test]
    fn floats_and_datetimes_refuse_the_file_naming_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let file = home.join("config.toml");
        let message = |text: &str| {
            fs::write(&file, text).unwrap();
            let err = CargoConfig::load_with_env(tmp.path(), &[], env(&[], &home)).unwrap_err();
            let mut chain = vec![err.to_string()];
            let mut next = std::error::Error::source(&err);
            while let Some(e) = next {
                chain.push(e.to_string());
                next = e.source();
            }
            chain.join("\n")
        };
        let path = file.display();
        assert_eq!(
            message("[http]\nproxy = 3.0\n"),
            format!(
                "could not load Cargo configuration\nfailed to load TOML configuration from `{path}`\nfailed to parse config at `http.proxy`\nunsupported TOML configuration type `float`"
            )
        );
        assert!(
            message("[alias]\nok = 'x'\nd = [07:32:00, 1]\n")
                .ends_with("at `alias.d[0]`\nunsupported TOML configuration type `datetime`")
        );
        fs::write(&file, "[http]\nproxy = 'h'\ntimeout = 3\n").unwrap();
        assert!(CargoConfig::load_with_env(tmp.path(), &[], env(&[], &home)).is_ok());
    }

    #[test]
    fn unknown_registry_keys_are_listed_with_their_file() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let file = home.join("config.toml");
        fs::write(
            &file,
            "[registries.alt]\nindex = 'x'\ntoken = 't'\nunexpected-field = 1\nprotocol = 'git'\n",
        )
        .unwrap();
        let c = CargoConfig::load_with_env(tmp.path(), &[], env(&[], &home)).unwrap();
        assert_eq!(
            c.registry_unused_keys("alt"),
            [(
                "registries.alt.unexpected-field".to_owned(),
                file.display().to_string()
            )]
        );
        assert!(c.registry_unused_keys("other").is_empty());
        fs::write(&file, "[registry]\ntoken = 't'\nunexpected-field = 1\n").unwrap();
        let c = CargoConfig::load_with_env(tmp.path(), &[], env(&[], &home)).unwrap();
        assert_eq!(
            c.registry_unused_keys("crates-io"),
            [(
                "registry.unexpected-field".to_owned(),
                file.display().to_string()
            )]
        );
    }

    #[test]
    fn precedence_cli_then_env_then_nearest_file_then_home() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let proj = tmp.path().join("a/b");
        fs::create_dir_all(home.join("")).unwrap();
        fs::create_dir_all(proj.join(".cargo")).unwrap();
        fs::create_dir_all(tmp.path().join("a/.cargo")).unwrap();
        fs::write(
            home.join("config.toml"),
            "[build]\ntarget-dir = 'home-t'\njobs = 3\n",
        )
        .unwrap();
        fs::write(
            tmp.path().join("a/.cargo/config.toml"),
            "[build]\ntarget-dir = 'outer'\n",
        )
        .unwrap();
        fs::write(
            proj.join(".cargo/config.toml"),
            "[registries.alt]\nindex = 'sparse+http://x/'\n",
        )
        .unwrap();

        let c = CargoConfig::load_with_env(&proj, &[], env(&[], &home)).unwrap();
        assert_eq!(
            c.get_path("build.target-dir").unwrap(),
            Some(tmp.path().join("a/outer"))
        );
        assert_eq!(
            c.registry_index("alt").unwrap().as_deref(),
            Some("sparse+http://x/")
        );
        assert_eq!(c.registry_names(), ["alt"]);

        let c = CargoConfig::load_with_env(
            &proj,
            &[],
            env(&[("CARGO_BUILD_TARGET_DIR", "envt")], &home),
        )
        .unwrap();
        assert_eq!(
            c.get_path("build.target-dir").unwrap(),
            Some(proj.join("envt"))
        );

        let c = CargoConfig::load_with_env(
            &proj,
            &["build.target-dir='clit'".into()],
            env(&[("CARGO_BUILD_TARGET_DIR", "envt")], &home),
        )
        .unwrap();
        assert_eq!(
            c.get_path("build.target-dir").unwrap(),
            Some(proj.join("clit"))
        );
    }

    #[test]
    fn bad_values_name_the_key_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        fs::write(
            tmp.path().join(".cargo/config.toml"),
            "[registry]\ndefault = 3\n",
        )
        .unwrap();
        let c =
            CargoConfig::load_with_env(tmp.path(), &[], env(&[], &tmp.path().join("h"))).unwrap();
        let err = c.get_string("registry.default").unwrap_err().to_string();
        assert!(
            err.contains("registry.default") && err.contains("config.toml"),
            "{err}"
        );

        fs::write(tmp.path().join(".cargo/config.toml"), "[registry\n").unwrap();
        let err = CargoConfig::load_with_env(tmp.path(), &[], env(&[], &tmp.path().join("h")))
            .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }

    #[test]
    fn crates_io_replacement_descriptions() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        let load = |text: &str| {
            fs::write(tmp.path().join(".cargo/config.toml"), text).unwrap();
            CargoConfig::load_with_env(tmp.path(), &[], env(&[], &tmp.path().join("h"))).unwrap()
        };
        let c = load("[source.crates-io]\nreplace-with = 'v'\n[source.v]\ndirectory = 'vendor'\n");
        assert_eq!(
            c.crates_io_replacement().unwrap(),
            Some(format!("dir {}", tmp.path().join("vendor").display()))
        );
        let c = load(
            "[source.crates-io]\nreplace-with = 'v'\n[source.v]\nregistry = 'sparse+http://x/'\n",
        );
        assert_eq!(
            c.crates_io_replacement().unwrap().as_deref(),
            Some("registry `v`")
        );
        assert_eq!(load("").crates_io_replacement().unwrap(), None);
    }

    #[test]
    fn test_root_hook_ends_the_config_search() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        fs::create_dir_all(root.join("t/.cargo")).unwrap();
        fs::write(tmp.path().join(".cargo/config.toml"), "[build]\njobs = 1\n").unwrap();
        fs::write(root.join("t/.cargo/config.toml"), "[net]\noffline = true\n").unwrap();
        let load = |pairs: &[(&str, &str)]| {
            let e = env(pairs, &tmp.path().join("h"));
            CargoConfig::load_with_env(&root.join("t"), &[], e).unwrap()
        };
        let stopped = load(&[("__CARGO_TEST_ROOT", root.to_str().unwrap())]);
        assert_eq!(stopped.get_bool("net.offline").unwrap(), Some(true));
        assert!(stopped.get("build.jobs").unwrap().is_none());
        assert!(load(&[]).get("build.jobs").unwrap().is_some());
    }

    #[test]
    fn test_hook_url_is_crates_io_not_a_replacement() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        fs::write(
            tmp.path().join(".cargo/config.toml"),
            "[source.crates-io]\nreplace-with = 'd'\n[registries.d]\nindex = 'sparse+http://127.0.0.1:9/index/'\n",
        )
        .unwrap();
        let load = |hook: &str| {
            let e = env(&[(CRATES_IO_TEST_HOOK, hook)], &tmp.path().join("h"));
            CargoConfig::load_with_env(tmp.path(), &[], e).unwrap()
        };
        let c = load("sparse+http://127.0.0.1:9/index/");
        assert_eq!(
            c.crates_io_test_index(),
            Some("sparse+http://127.0.0.1:9/index/")
        );
        assert_eq!(c.crates_io_replace_with().unwrap(), None);
        assert_eq!(c.crates_io_replacement().unwrap(), None);
        let c = load("sparse+http://127.0.0.1:10/index/");
        assert_eq!(
            c.crates_io_replacement().unwrap().as_deref(),
            Some("registry `d`")
        );
        let c = load("");
        assert_eq!(c.crates_io_test_index(), None);
        assert!(c.crates_io_replace_with().unwrap().is_some());
    }

    #[test]
    fn env_key_mapping() {
        assert_eq!(env_key("build.target-dir"), "CARGO_BUILD_TARGET_DIR");
        assert_eq!(
            env_key("registries.my-reg.index"),
            "CARGO_REGISTRIES_MY_REG_INDEX"
        );
    }
}
