//! Who published a version, as crate pages show it: a user's login, or, for a version published
//! through trusted publishing, the CI run recorded on it (`trustpub_data`: the provider, the
//! GitHub repository and run or the GitLab project and job, and the commit).
//!
//! The run is linked when the CI system's web address follows from the issuer configured now:
//! github.com for GitHub's own issuer, `https://HOST` for GitHub Enterprise Server's
//! `https://HOST/_services/token`, and the issuer itself for GitLab (its issuer is the instance).

use maud::{Markup, html};
use serde::Deserialize;

use crate::config::{GITHUB_ISSUER, TrustedPublishing};
use crate::store::pages::VersionListing;

/// The CI run behind a trusted publish.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase")]
pub enum CiRun {
    Github {
        repository: String,
        #[serde(deserialize_with = "id_text")]
        run_id: String,
        sha: String,
    },
    Gitlab {
        project_path: String,
        #[serde(deserialize_with = "id_text")]
        job_id: String,
        sha: String,
    },
}

/// Run and job ids are strings in GitHub's claims and may be numbers elsewhere: either reads.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

impl CiRun {
    /// The run recorded on `v`, if a trusted publish recorded one it can read.
    pub fn of(v: &VersionListing) -> Option<CiRun> {
        serde_json::from_str(v.trustpub_data.as_deref()?).ok()
    }

    /// `GitHub Actions` or `GitLab CI`.
    pub fn system(&self) -> &'static str {
        match self {
            CiRun::Github { .. } => "GitHub Actions",
            CiRun::Gitlab { .. } => "GitLab CI",
        }
    }

    /// The repository or project.
    pub fn source(&self) -> &str {
        match self {
            CiRun::Github { repository, .. } => repository,
            CiRun::Gitlab { project_path, .. } => project_path,
        }
    }

    /// `run 123` or `job 456`.
    pub fn run(&self) -> String {
        match self {
            CiRun::Github { run_id, .. } => format!("run {run_id}"),
            CiRun::Gitlab { job_id, .. } => format!("job {job_id}"),
        }
    }

    fn sha(&self) -> &str {
        match self {
            CiRun::Github { sha, .. } | CiRun::Gitlab { sha, .. } => sha,
        }
    }

    /// The run's page, when the CI system's web address is known from `tp` (see the module docs).
    pub fn url(&self, tp: &TrustedPublishing) -> Option<String> {
        let safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                && !s.contains("..")
        };
        match self {
            CiRun::Github {
                repository, run_id, ..
            } => {
                let issuer = tp.github_issuer.as_deref()?;
                let host = match issuer {
                    GITHUB_ISSUER => "https://github.com",
                    i => i.strip_suffix("/_services/token")?,
                };
                (safe(repository) && safe(run_id))
                    .then(|| format!("{host}/{repository}/actions/runs/{run_id}"))
            }
            CiRun::Gitlab {
                project_path,
                job_id,
                ..
            } => {
                let host = tp.gitlab_issuer.as_deref()?;
                (safe(project_path) && safe(job_id))
                    .then(|| format!("{host}/{project_path}/-/jobs/{job_id}"))
            }
        }
    }
}

/// After the publish date: ` by LOGIN`, or ` via GitHub Actions` and the run, linked when known.
pub fn published_by(v: &VersionListing, tp: &TrustedPublishing) -> Markup {
    if let Some(run) = CiRun::of(v) {
        let short: String = run.sha().chars().take(7).collect();
        return html! {
            " via " span #trusted-publisher { (run.system()) } br;
            span.ci-run {
                (run.source()) ", "
                @match run.url(tp) {
                    Some(u) => { a href=(u) rel="nofollow noopener" { (run.run()) } }
                    None => { (run.run()) }
                }
                @if !short.is_empty() { ", commit " code { (short) } }
            }
        };
    }
    html! { @if let Some(by) = &v.published_by { " by " (by) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(data: Option<&str>) -> VersionListing {
        VersionListing {
            id: 1,
            num: "1.0.0".into(),
            yanked: 0,
            cksum: String::new(),
            created_at: 0,
            publisher_id: None,
            published_by: None,
            downloads: 0,
            trustpub_data: data.map(str::to_owned),
        }
    }

    #[test]
    fn runs_link_to_the_configured_ci_host() {
        let gh = r#"{"provider":"github","repository":"octo-org/octo-repo","run_id":"42","sha":"abcdef0123"}"#;
        let run = CiRun::of(&listing(Some(gh))).unwrap();
        let mut tp = TrustedPublishing::default();
        assert_eq!(
            run.url(&tp).as_deref(),
            Some("https://github.com/octo-org/octo-repo/actions/runs/42")
        );
        tp.github_issuer = Some("https://ghe.example.com/_services/token".into());
        assert_eq!(
            run.url(&tp).as_deref(),
            Some("https://ghe.example.com/octo-org/octo-repo/actions/runs/42")
        );
        tp.github_issuer = Some("http://127.0.0.1:9".into());
        assert_eq!(run.url(&tp), None, "an issuer that names no web host");
        tp.github_issuer = None;
        assert_eq!(run.url(&tp), None);

        let gl =
            r#"{"provider":"gitlab","project_path":"group/sub/project","job_id":7,"sha":"01"}"#;
        let job = CiRun::of(&listing(Some(gl))).unwrap();
        assert_eq!(job.run(), "job 7");
        assert_eq!(
            job.url(&TrustedPublishing::default()).as_deref(),
            Some("https://gitlab.com/group/sub/project/-/jobs/7")
        );
    }

    #[test]
    fn unreadable_or_odd_records_show_no_link() {
        assert_eq!(CiRun::of(&listing(None)), None);
        assert_eq!(
            CiRun::of(&listing(Some("{\"provider\":\"jenkins\"}"))),
            None
        );
        let odd = r#"{"provider":"github","repository":"a/b?x=<y>","run_id":"1","sha":""}"#;
        let run = CiRun::of(&listing(Some(odd))).unwrap();
        assert_eq!(run.url(&TrustedPublishing::default()), None);
        let html = published_by(&listing(Some(odd)), &TrustedPublishing::default()).into_string();
        assert!(html.contains("a/b?x=&lt;y&gt;"), "{html}");
        assert!(!html.contains("commit"), "{html}");
    }
}
