//! Which configs of a repository an OIDC identity selects, in crates.io's order of checks: the
//! owner/namespace id (resurrection protection), then the workflow file, then the environment.
//! Each stage that leaves nothing says which values the configs expected, so the refusal can name
//! them. Pure: the exchange transaction loads the candidates and writes the outcome.

/// One config of the repository the JWT names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub config_id: i64,
    /// The crate it publishes; `None` for a pending config.
    pub crate_id: Option<i64>,
    /// GitHub's owner id or GitLab's namespace id; `None` until known.
    pub identity_id: Option<String>,
    pub workflow: String,
    pub environment: Option<String>,
}

/// Why no config matched; the lists hold what the dropped configs expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Identity {
        expected: Vec<String>,
    },
    Workflow {
        expected: Vec<String>,
    },
    /// `expected` are the environments of the dropped configs.
    Environment {
        expected: Vec<String>,
    },
}

/// What the JWT says about the job.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    pub id: &'a str,
    pub workflow: &'a str,
    pub environment: Option<&'a str>,
}

/// The candidates the identity matches. Candidates without an identity id match any (the caller
/// records the JWT's id on them: trust on first use, as crates.io does for GitLab namespaces).
pub(super) fn select(
    mut candidates: Vec<Candidate>,
    job: Identity<'_>,
) -> Result<Vec<Candidate>, Mismatch> {
    let expected = take_unless(&mut candidates, |c| {
        c.identity_id.as_deref().is_none_or(|id| id == job.id)
    })
    .filter_map(|c| c.identity_id)
    .collect::<Vec<_>>();
    if candidates.is_empty() {
        return Err(Mismatch::Identity { expected });
    }

    let expected = take_unless(&mut candidates, |c| c.workflow == job.workflow)
        .map(|c| format!("`{}`", c.workflow))
        .collect::<Vec<_>>();
    if candidates.is_empty() {
        return Err(Mismatch::Workflow { expected });
    }

    // A config without an environment accepts any; one with an environment needs the same one,
    // compared without regard to case.
    let expected = take_unless(&mut candidates, |c| {
        match (&c.environment, job.environment) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(want), Some(have)) => want.to_lowercase() == have.to_lowercase(),
        }
    })
    .filter_map(|c| c.environment.map(|e| format!("`{e}`")))
    .collect::<Vec<_>>();
    if candidates.is_empty() {
        return Err(Mismatch::Environment { expected });
    }
    Ok(candidates)
}

/// Removes and yields the candidates `keep` refuses, in order.
fn take_unless(
    candidates: &mut Vec<Candidate>,
    keep: impl Fn(&Candidate) -> bool,
) -> impl Iterator<Item = Candidate> {
    let (kept, dropped): (Vec<_>, Vec<_>) = std::mem::take(candidates).into_iter().partition(keep);
    *candidates = kept;
    dropped.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, identity: Option<&str>, workflow: &str, env: Option<&str>) -> Candidate {
        Candidate {
            config_id: id,
            crate_id: Some(id * 10),
            identity_id: identity.map(str::to_owned),
            workflow: workflow.to_owned(),
            environment: env.map(str::to_owned),
        }
    }

    fn job<'a>(id: &'a str, workflow: &'a str, env: Option<&'a str>) -> Identity<'a> {
        Identity {
            id,
            workflow,
            environment: env,
        }
    }

    #[test]
    fn every_stage_filters_and_reports_what_was_expected() {
        let all = vec![
            cand(1, Some("42"), "release.yml", None),
            cand(2, Some("42"), "release.yml", Some("Prod")),
            cand(3, Some("42"), "ci.yml", None),
            cand(4, None, "release.yml", Some("staging")),
        ];
        let ids = |r: Vec<Candidate>| r.into_iter().map(|c| c.config_id).collect::<Vec<_>>();
        assert_eq!(
            ids(select(all.clone(), job("42", "release.yml", None)).unwrap()),
            [1]
        );
        // Environments compare without case; a config without one accepts any.
        assert_eq!(
            ids(select(all.clone(), job("42", "release.yml", Some("PROD"))).unwrap()),
            [1, 2]
        );
        // A config that has not learnt its id yet accepts any.
        assert_eq!(
            ids(select(all.clone(), job("7", "release.yml", Some("staging"))).unwrap()),
            [4]
        );
        assert_eq!(
            select(all[..3].to_vec(), job("7", "release.yml", None)),
            Err(Mismatch::Identity {
                expected: vec!["42".into(), "42".into(), "42".into()]
            })
        );
        assert_eq!(
            select(all.clone(), job("42", "other.yml", None)),
            Err(Mismatch::Workflow {
                expected: vec![
                    "`release.yml`".into(),
                    "`release.yml`".into(),
                    "`ci.yml`".into(),
                    "`release.yml`".into()
                ]
            })
        );
        let env_only = vec![cand(2, Some("42"), "release.yml", Some("prod"))];
        assert_eq!(
            select(env_only.clone(), job("42", "release.yml", None)),
            Err(Mismatch::Environment {
                expected: vec!["`prod`".into()]
            })
        );
        assert_eq!(
            select(env_only, job("42", "release.yml", Some("dev"))),
            Err(Mismatch::Environment {
                expected: vec!["`prod`".into()]
            })
        );
        // The workflow file name compares exactly.
        assert!(select(all, job("42", "Release.yml", None)).is_err());
    }
}
