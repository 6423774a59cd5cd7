//! Web API bodies: errors, publish warnings, `ok`/`msg` answers, owners and search.

use serde::{Deserialize, Serialize};

/// One entry of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub detail: String,
}

/// `{"errors":[{"detail":…}]}` — cargo treats this body as an error whatever the status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errors: Vec<ApiError>,
}

impl ErrorBody {
    pub fn new(detail: impl Into<String>) -> Self {
        ErrorBody {
            errors: vec![ApiError {
                detail: detail.into(),
            }],
        }
    }

    /// The details joined the way cargo shows them.
    pub fn joined(&self) -> String {
        self.errors
            .iter()
            .map(|e| e.detail.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishWarnings {
    #[serde(default)]
    pub invalid_categories: Vec<String>,
    #[serde(default)]
    pub invalid_badges: Vec<String>,
    #[serde(default)]
    pub other: Vec<String>,
}

/// Success answer to a publish. Cargo also accepts an empty body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishResponse {
    #[serde(default)]
    pub warnings: PublishWarnings,
}

/// `{"ok":true,"msg":…}` for yank/unyank (msg optional) and owner changes (msg required by cargo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OkResponse {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub id: u32,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnersResponse {
    pub users: Vec<Owner>,
}

/// Body of `PUT`/`DELETE /api/v1/crates/{name}/owners`; crates.io accepts `owners` as an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnersRequest {
    #[serde(alias = "owners")]
    pub users: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCrate {
    pub name: String,
    pub max_version: String,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchMeta {
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub crates: Vec<SearchCrate>,
    pub meta: SearchMeta,
}
