-- Trusted publishing (issue 16): who may publish from which CI job, the temporary tokens, the JWT
-- ids already exchanged, the per-crate enforcement flag, and what each trusted publish recorded on
-- its version. Same tables and columns as postgres/0005_trustpub.sql.
ALTER TABLE crates ADD COLUMN trustpub_only INTEGER NOT NULL DEFAULT 0;

-- A config either belongs to a crate (crate_id) or is pending: it may create the crate named
-- pending_name, owned by pending_owner_id, until pending_expires_at; the first publish through it
-- turns it into an ordinary config of that crate.
CREATE TABLE trustpub_configs_github (
    id INTEGER PRIMARY KEY,
    crate_id INTEGER REFERENCES crates(id),
    pending_name TEXT,
    pending_canon TEXT,
    pending_owner_id INTEGER REFERENCES users(id),
    pending_expires_at INTEGER,
    repository_owner TEXT NOT NULL,
    -- GitHub's numeric id of the owner: given at creation, or learnt from the first exchange
    repository_owner_id INTEGER,
    repository_name TEXT NOT NULL,
    workflow_filename TEXT NOT NULL,
    environment TEXT,
    created_at INTEGER NOT NULL,
    CHECK ((crate_id IS NOT NULL AND pending_canon IS NULL AND pending_name IS NULL
            AND pending_owner_id IS NULL AND pending_expires_at IS NULL)
        OR (crate_id IS NULL AND pending_canon IS NOT NULL AND pending_name IS NOT NULL
            AND pending_owner_id IS NOT NULL AND pending_expires_at IS NOT NULL))
);
CREATE TABLE trustpub_configs_gitlab (
    id INTEGER PRIMARY KEY,
    crate_id INTEGER REFERENCES crates(id),
    pending_name TEXT,
    pending_canon TEXT,
    pending_owner_id INTEGER REFERENCES users(id),
    pending_expires_at INTEGER,
    namespace TEXT NOT NULL,
    -- GitLab's numeric namespace id, learnt from the first exchange
    namespace_id TEXT,
    project TEXT NOT NULL,
    workflow_filepath TEXT NOT NULL,
    environment TEXT,
    created_at INTEGER NOT NULL,
    CHECK ((crate_id IS NOT NULL AND pending_canon IS NULL AND pending_name IS NULL
            AND pending_owner_id IS NULL AND pending_expires_at IS NULL)
        OR (crate_id IS NULL AND pending_canon IS NOT NULL AND pending_name IS NOT NULL
            AND pending_owner_id IS NOT NULL AND pending_expires_at IS NOT NULL))
);
CREATE INDEX trustpub_configs_github_repo
    ON trustpub_configs_github (lower(repository_owner), lower(repository_name));
CREATE INDEX trustpub_configs_github_crate ON trustpub_configs_github (crate_id);
CREATE INDEX trustpub_configs_github_pending ON trustpub_configs_github (pending_canon);
CREATE INDEX trustpub_configs_gitlab_repo
    ON trustpub_configs_gitlab (lower(namespace), lower(project));
CREATE INDEX trustpub_configs_gitlab_crate ON trustpub_configs_gitlab (crate_id);
CREATE INDEX trustpub_configs_gitlab_pending ON trustpub_configs_gitlab (pending_canon);

-- The temporary publish tokens, only as SHA-256; deleted when revoked, purged once expired.
CREATE TABLE trustpub_tokens (
    id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    -- JSON array of the ids of the crates the token may publish
    crate_ids TEXT NOT NULL,
    -- JSON array of the pending configs the token may create a crate through
    pending TEXT NOT NULL,
    -- JSON: which CI run it was issued to, copied onto the versions it publishes
    trustpub_data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX trustpub_tokens_expires_at ON trustpub_tokens (expires_at);

-- Every JWT is exchanged once: its id is kept (shared by all instances) until it has expired.
CREATE TABLE trustpub_used_jtis (
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX trustpub_used_jtis_expires_at ON trustpub_used_jtis (expires_at);

-- The CI run behind a version published with a trusted-publishing token.
CREATE TABLE trustpub_versions (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id),
    trustpub_data TEXT NOT NULL
);
