//! Programs with arguments in cargo's configuration (cargo's `PathAndArgs`): a credential provider
//! or alias written as one whitespace-separated string or as an array, a relative program path
//! resolved against the file that configured it.

use toml::Value;

use super::{CargoConfig, ConfigError, Origin};

/// A program with arguments, from a config value (see [`CargoConfig::get_path_and_args`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAndArgs {
    pub program: String,
    pub args: Vec<String>,
    /// Where it was configured (for messages).
    pub origin: Origin,
}

impl PathAndArgs {
    /// Program then arguments.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().cloned())
            .collect()
    }
}

impl CargoConfig {
    /// A program and its arguments, written as one whitespace-separated string or as an array of
    /// strings (cargo's `PathAndArgs`: `credential-provider`, `credential-alias.*`). A program
    /// written with a path separator is relative to where it was configured; a bare name is looked
    /// up on `PATH` when run.
    pub fn get_path_and_args(&self, key: &str) -> Result<Option<PathAndArgs>, ConfigError> {
        let Some((value, origin)) = self.get(key)? else {
            return Ok(None);
        };
        let words: Vec<String> = match value {
            Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => {
                        Err(self.wrong_type(key, "a string or array of strings", &other, &origin))
                    }
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(self.wrong_type(key, "a string or array of strings", &other, &origin));
            }
        };
        Ok(self.path_and_args(words, &origin))
    }

    /// A list of strings, each one whitespace-separated program and arguments (cargo's
    /// `registry.global-credential-providers`). From the environment, every word is one entry.
    pub fn get_path_and_args_list(
        &self,
        key: &str,
    ) -> Result<Option<Vec<PathAndArgs>>, ConfigError> {
        let Some((value, origin)) = self.get(key)? else {
            return Ok(None);
        };
        let entries: Vec<String> = match value {
            Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    other => Err(self.wrong_type(key, "a list of strings", &other, &origin)),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(self.wrong_type(key, "a list of strings", &other, &origin)),
        };
        Ok(Some(
            entries
                .into_iter()
                .filter_map(|e| {
                    let words = e.split_whitespace().map(str::to_owned).collect();
                    self.path_and_args(words, &origin)
                })
                .collect(),
        ))
    }

    fn path_and_args(&self, mut words: Vec<String>, origin: &Origin) -> Option<PathAndArgs> {
        if words.is_empty() {
            return None;
        }
        let program = words.remove(0);
        let has_separator = program.contains('/') || program.contains('\\');
        let program = if has_separator {
            self.resolve_path(&program, origin).display().to_string()
        } else {
            program
        };
        Some(PathAndArgs {
            program,
            args: words,
            origin: origin.clone(),
        })
    }

    fn wrong_type(
        &self,
        key: &str,
        expected: &'static str,
        found: &Value,
        origin: &Origin,
    ) -> ConfigError {
        ConfigError::WrongType {
            key: key.to_owned(),
            expected,
            found: found.type_str(),
            origin: origin.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::Path;

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
    fn programs_with_arguments_as_string_or_array() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        fs::write(
            tmp.path().join(".cargo/config.toml"),
            "[registries.a]\ncredential-provider = ['cargo:token-from-stdout', 'echo', 'two words']\n[registries.b]\ncredential-provider = 'bin/helper --flag x'\n[registry]\nglobal-credential-providers = ['cargo:token', 'my-alias', 'tools/p --v']\n",
        )
        .unwrap();
        let c = CargoConfig::load_with_env(
            tmp.path(),
            &[],
            env(
                &[(
                    "CARGO_REGISTRIES_C_CREDENTIAL_PROVIDER",
                    "cargo:token-from-stdout cat f",
                )],
                &tmp.path().join("h"),
            ),
        )
        .unwrap();
        let a = c
            .get_path_and_args("registries.a.credential-provider")
            .unwrap()
            .unwrap();
        assert_eq!(a.argv(), ["cargo:token-from-stdout", "echo", "two words"]);
        let b = c
            .get_path_and_args("registries.b.credential-provider")
            .unwrap()
            .unwrap();
        assert_eq!(
            b.program,
            tmp.path().join("bin/helper").display().to_string()
        );
        assert_eq!(b.args, ["--flag", "x"]);
        let env_p = c
            .get_path_and_args("registries.c.credential-provider")
            .unwrap()
            .unwrap();
        assert_eq!(env_p.argv(), ["cargo:token-from-stdout", "cat", "f"]);
        let list = c
            .get_path_and_args_list("registry.global-credential-providers")
            .unwrap()
            .unwrap();
        let argvs: Vec<Vec<String>> = list.iter().map(PathAndArgs::argv).collect();
        assert_eq!(argvs[0], ["cargo:token"]);
        assert_eq!(argvs[1], ["my-alias"]);
        assert_eq!(
            argvs[2],
            [
                tmp.path().join("tools/p").display().to_string(),
                "--v".to_owned()
            ]
        );
        assert_eq!(
            c.get_path_and_args("registries.none.credential-provider")
                .unwrap(),
            None
        );
    }
}
