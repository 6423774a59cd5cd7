//! Which credential providers apply to a registry, in the order they are asked (cargo 1.95):
//!
//! 1. the registry's own `credential-provider` (`registry.credential-provider` for crates.io,
//!    `registries.NAME.credential-provider`), alone;
//! 2. else `registry.global-credential-providers`, the last entry first;
//! 3. else `cargo:token`; for an index that demands authentication this default is refused
//!    ("authenticated registries require a credential-provider to be configured").
//!
//! A provider written without arguments may name a `[credential-alias]`; an alias that would
//! shadow a built-in provider is ignored with a warning. A token configured for a registry whose
//! providers cannot use it is reported, as cargo does.

use crate::config::{CargoConfig, Origin, PathAndArgs};
use crate::credentials::{self, CRATES_IO, TokenSource};

use super::{AuthError, RegistryRef};

/// Providers built into cargo (and into cargo-gantry).
pub const BUILT_IN: &[&str] = &[
    "cargo:token",
    "cargo:paseto",
    "cargo:token-from-stdout",
    "cargo:wincred",
    "cargo:macos-keychain",
    "cargo:libsecret",
];

/// Each provider as program-then-arguments, in the order to ask them.
pub(super) fn for_registry(
    config: &CargoConfig,
    registry: &RegistryRef,
    require_config: bool,
    warn: &dyn Fn(String),
) -> Result<Vec<Vec<String>>, AuthError> {
    let global = config
        .get_path_and_args_list("registry.global-credential-providers")?
        .filter(|l| !l.is_empty());
    let global_defined = global.is_some();
    let global: Vec<Vec<String>> = match global {
        Some(list) => list
            .into_iter()
            .rev()
            .map(|p| resolve_alias(config, p, warn))
            .collect::<Result<_, _>>()?,
        None => vec![vec!["cargo:token".to_owned()]],
    };
    let own_key = registry.credential_name.as_deref().map(provider_key);
    let own = match &own_key {
        Some(key) => config.get_path_and_args(key)?,
        None => None,
    };
    let token = match &registry.credential_name {
        Some(name) => credentials::find_token(config, name)?,
        None => None,
    };
    if let Some(own) = own {
        let own = resolve_alias(config, own, warn)?;
        if let Some((_, source)) = &token
            && own[0] != "cargo:token"
        {
            warn(format!(
                "{} has a token configured in {} that will be ignored because this registry is configured to use credential-provider `{}`",
                source_display(registry),
                where_defined(source),
                own[0]
            ));
        }
        return Ok(vec![own]);
    }
    if let Some((_, source)) = &token
        && !global
            .iter()
            .any(|p| p.first().map(String::as_str) == Some("cargo:token"))
    {
        warn(format!(
            "{} has a token configured in {} that will be ignored because the `cargo:token` credential provider is not listed in `registry.global-credential-providers`",
            source_display(registry),
            where_defined(source)
        ));
    }
    if !global_defined && require_config {
        return Err(AuthError::ProviderRequired);
    }
    Ok(global)
}

fn provider_key(registry_name: &str) -> String {
    if registry_name == CRATES_IO {
        "registry.credential-provider".to_owned()
    } else {
        format!("registries.{registry_name}.credential-provider")
    }
}

/// A provider without arguments may be an alias from `[credential-alias]`.
fn resolve_alias(
    config: &CargoConfig,
    provider: PathAndArgs,
    warn: &dyn Fn(String),
) -> Result<Vec<String>, AuthError> {
    if provider.args.is_empty()
        && let Some(alias) =
            config.get_path_and_args(&format!("credential-alias.{}", provider.program))?
    {
        if BUILT_IN.contains(&provider.program.as_str()) {
            warn(format!(
                "credential-alias `{}` (defined in `{}`) will be ignored because it would shadow a built-in credential-provider",
                provider.program,
                origin_display(&alias.origin)
            ));
        } else {
            return Ok(alias.argv());
        }
    }
    Ok(provider.argv())
}

/// How cargo names a registry source in these warnings.
fn source_display(registry: &RegistryRef) -> String {
    format!("registry `{}`", registry.display_name())
}

fn where_defined(source: &TokenSource) -> String {
    match source {
        TokenSource::Env(var) => format!("environment variable `{var}`"),
        TokenSource::CredentialsFile(path) => path.display().to_string(),
        TokenSource::Config(origin) => origin_display(origin),
    }
}

fn origin_display(origin: &Origin) -> String {
    match origin {
        Origin::File(path) => path.display().to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, CargoConfig) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".cargo")).unwrap();
        std::fs::write(tmp.path().join(".cargo/config.toml"), text).unwrap();
        let mut e: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.insert(
            "CARGO_HOME".into(),
            tmp.path().join("home").display().to_string(),
        );
        let c = CargoConfig::load_with_env(tmp.path(), &[], e).unwrap();
        (tmp, c)
    }

    fn alt() -> RegistryRef {
        RegistryRef {
            index_url: "sparse+http://127.0.0.1/index/".into(),
            key: Some("alt".into()),
            credential_name: Some("alt".into()),
            ambiguous: None,
        }
    }

    fn list(c: &CargoConfig, require: bool) -> (Result<Vec<Vec<String>>, AuthError>, Vec<String>) {
        let warnings = std::cell::RefCell::new(Vec::new());
        let r = for_registry(c, &alt(), require, &|w| warnings.borrow_mut().push(w));
        (r, warnings.into_inner())
    }

    #[test]
    fn default_is_cargo_token_but_not_for_authenticated_indexes() {
        let (_t, c) = load("", &[]);
        assert_eq!(list(&c, false).0.unwrap(), [["cargo:token"]]);
        assert_eq!(
            list(&c, true).0.unwrap_err().to_string(),
            "authenticated registries require a credential-provider to be configured\nsee https://doc.rust-lang.org/cargo/reference/registry-authentication.html for details"
        );
    }

    #[test]
    fn global_list_is_tried_last_first_and_aliases_resolve() {
        let (_t, c) = load(
            "[registry]\nglobal-credential-providers = ['cargo:token', 'mine']\n[credential-alias]\nmine = ['cargo:token-from-stdout', 'echo', 'x y']\ncargo-token = 'ignored'\n",
            &[],
        );
        assert_eq!(
            list(&c, true).0.unwrap(),
            vec![
                vec!["cargo:token-from-stdout", "echo", "x y"],
                vec!["cargo:token"]
            ]
        );
    }

    #[test]
    fn own_provider_wins_and_a_shadowing_alias_is_ignored() {
        let (_t, c) = load(
            "[registries.alt]\ncredential-provider = 'cargo:libsecret'\ntoken = 'unused'\n[registry]\nglobal-credential-providers = ['cargo:token']\n[credential-alias]\n'cargo:libsecret' = 'evil'\n",
            &[],
        );
        let (r, warnings) = list(&c, false);
        assert_eq!(r.unwrap(), [["cargo:libsecret"]]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("credential-alias `cargo:libsecret` (defined in "),
            "{warnings:?}"
        );
        assert!(
            warnings[1].starts_with("registry `alt` has a token configured in ")
                && warnings[1].ends_with("will be ignored because this registry is configured to use credential-provider `cargo:libsecret`"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_token_no_provider_reads_is_reported() {
        let (_t, c) = load(
            "[registry]\nglobal-credential-providers = ['cargo:token-from-stdout echo t']\n",
            &[("CARGO_REGISTRIES_ALT_TOKEN", "t")],
        );
        let (r, warnings) = list(&c, false);
        assert_eq!(r.unwrap(), [["cargo:token-from-stdout", "echo", "t"]]);
        assert_eq!(
            warnings,
            [
                "registry `alt` has a token configured in environment variable `CARGO_REGISTRIES_ALT_TOKEN` that will be ignored because the `cargo:token` credential provider is not listed in `registry.global-credential-providers`"
            ]
        );
    }
}
