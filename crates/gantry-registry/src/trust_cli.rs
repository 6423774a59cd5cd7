//! `gantry-registry trust add|list|remove`: trusted-publishing configs managed by an administrator
//! with access to the database (no owner checks; the field rules and limits are the API's).

use anyhow::{Context, bail};
use gantry_registry::Config;
use gantry_registry::app::open_meta_store;
use gantry_registry::store::trustpub::{
    ConfigCrate, ConfigFilter, CreateConfigError, NewConfigCrate, NewTrustConfig, Provider, Source,
    TrustConfig,
};
use gantry_registry::store::{MetaStore, now};
use gantry_registry::trustpub::{MAX_CONFIGS_PER_CRATE, PENDING_LIFETIME_SECS, validate};

use crate::{TrustAddArgs, TrustCommand};

pub(crate) async fn run(config: &Config, command: TrustCommand) -> anyhow::Result<()> {
    let store = open_meta_store(config).await?;
    match command {
        TrustCommand::Add(args) => add(store.as_ref(), args).await,
        TrustCommand::List { krate } => list(store.as_ref(), krate).await,
        TrustCommand::Remove { provider, id } => {
            let p = Provider::parse(&provider)
                .with_context(|| format!("unknown provider `{provider}`: use github or gitlab"))?;
            if !store.delete_trust_config(p, id).await? {
                bail!("no {provider} config with id {id}; see `gantry-registry trust list`");
            }
            println!("removed {provider} config {id}");
            Ok(())
        }
    }
}

fn split(value: &str, flag: &str, what: &str) -> anyhow::Result<(String, String)> {
    match value.rsplit_once('/') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_owned(), b.to_owned())),
        _ => bail!("--{flag} `{value}`: expected {what}"),
    }
}

fn source(args: &TrustAddArgs) -> anyhow::Result<Source> {
    let check = |r: Result<(), String>| r.map_err(anyhow::Error::msg);
    if let Some(gh) = &args.github {
        let (owner, repo) = split(gh, "github", "OWNER/REPO")?;
        check(validate::github_owner(&owner))?;
        check(validate::github_repo(&repo))?;
        check(validate::github_workflow_filename(&args.workflow))?;
        if let Some(env) = &args.environment {
            check(validate::github_environment(env))?;
        }
        return Ok(Source::GitHub {
            repository_owner: owner,
            repository_owner_id: args.owner_id,
            repository_name: repo,
            workflow_filename: args.workflow.clone(),
        });
    }
    let Some(gl) = &args.gitlab else {
        bail!("pass --github OWNER/REPO or --gitlab NAMESPACE/PROJECT");
    };
    let (namespace, project) = split(gl, "gitlab", "NAMESPACE/PROJECT")?;
    check(validate::gitlab_namespace(&namespace))?;
    check(validate::gitlab_project(&project))?;
    check(validate::gitlab_workflow_filepath(&args.workflow))?;
    if let Some(env) = &args.environment {
        check(validate::gitlab_environment(env))?;
    }
    Ok(Source::GitLab {
        namespace,
        namespace_id: None,
        project,
        workflow_filepath: args.workflow.clone(),
    })
}

async fn add(store: &dyn MetaStore, args: TrustAddArgs) -> anyhow::Result<()> {
    let source = source(&args)?;
    let name = &args.krate;
    let krate = match (store.crate_by_name(name).await?, &args.pending_for) {
        (Some(_), Some(_)) => {
            bail!("crate `{name}` already exists: leave out --pending-for")
        }
        (Some(info), None) => NewConfigCrate::Crate(info.id),
        (None, Some(login)) => {
            gantry_protocol::validate_crate_name(name)
                .map_err(|e| anyhow::anyhow!("--crate `{name}`: {e}"))?;
            let user = store.user_by_login(login).await?.with_context(|| {
                format!("no user `{login}`; run `gantry-registry user add {login}`")
            })?;
            NewConfigCrate::Pending {
                name: name.clone(),
                owner_id: user.id,
                expires_at: now() + PENDING_LIFETIME_SECS,
            }
        }
        (None, None) => bail!(
            "crate `{name}` does not exist; pass --pending-for LOGIN to let its first trusted \
             publish create it, owned by LOGIN"
        ),
    };
    let new = NewTrustConfig {
        krate,
        source,
        environment: args.environment.clone(),
        now: now(),
    };
    let config = match store.create_trust_config(&new, MAX_CONFIGS_PER_CRATE).await {
        Ok(c) => c,
        Err(CreateConfigError::TooMany { max }) => bail!(
            "crate `{name}` already has {max} configs of this provider; remove one first \
             (`gantry-registry trust list --crate {name}`)"
        ),
        Err(CreateConfigError::Store(e)) => return Err(e.into()),
    };
    println!("added {}", line(&config));
    Ok(())
}

async fn list(store: &dyn MetaStore, krate: Option<String>) -> anyhow::Result<()> {
    let filter = match &krate {
        None => ConfigFilter {
            everything: true,
            ..ConfigFilter::default()
        },
        Some(name) => match store.crate_by_name(name).await? {
            Some(info) => ConfigFilter {
                crate_ids: vec![info.id],
                ..ConfigFilter::default()
            },
            None => bail!("crate `{name}` does not exist"),
        },
    };
    for provider in Provider::ALL {
        let mut after = 0;
        loop {
            let page = store.trust_configs(provider, &filter, after, 100).await?;
            for c in &page.configs {
                println!("{}", line(c));
            }
            match page.configs.last() {
                Some(last) if page.configs.len() == 100 => after = last.id,
                _ => break,
            }
        }
    }
    Ok(())
}

/// One config on one line: `github 3 crate owner/repo workflow env=… owner-id=… [pending …]`.
fn line(c: &TrustConfig) -> String {
    let (provider, id) = match &c.source {
        Source::GitHub {
            repository_owner_id,
            ..
        } => (
            "github",
            repository_owner_id.map_or("-".to_owned(), |i| i.to_string()),
        ),
        Source::GitLab { namespace_id, .. } => {
            ("gitlab", namespace_id.clone().unwrap_or_else(|| "-".into()))
        }
    };
    let state = match &c.krate {
        ConfigCrate::Crate { .. } => "active".to_owned(),
        ConfigCrate::Pending {
            owner, expires_at, ..
        } => format!(
            "pending for {} until {}",
            owner.login,
            gantry_registry::web::time::timestamp(*expires_at)
        ),
    };
    format!(
        "{provider}\t{}\t{}\t{}\t{}\tenvironment={}\towner-id={id}\t{state}",
        c.id,
        c.krate.name(),
        c.source.repository(),
        c.source.workflow(),
        c.environment.as_deref().unwrap_or("-"),
    )
}
