-- Web pages, accounts, owner invitations and download counts (issue 14). Same tables and columns
-- as migrations/sqlite/0003_web.sql.

-- Accounts: an argon2id PHC string (NULL: the user cannot sign in with a password), the admin flag,
-- and the single sign-on identity (`<issuer> <subject>`) a user was created from or linked to.
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1));
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject);

-- Browser sessions, shared by every instance. Only the SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    id_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed password sign-ins per login within the current throttling window.
CREATE TABLE login_failures (
    login TEXT COLLATE "C" PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_start BIGINT NOT NULL
);

-- OpenID Connect sign-ins under way: the SHA-256 of `state` → PKCE verifier, nonce, where to go after.
CREATE TABLE oidc_logins (
    state_hash BYTEA PRIMARY KEY,
    pkce_verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Pending owner invitations (crates.io's flow: the invitee accepts or declines; 30 days to do so).
CREATE TABLE crate_owner_invitations (
    crate_id BIGINT NOT NULL REFERENCES crates(id),
    invitee_id BIGINT NOT NULL REFERENCES users(id),
    inviter_id BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (crate_id, invitee_id)
);
CREATE INDEX crate_owner_invitations_invitee_id ON crate_owner_invitations (invitee_id);

-- What a version's page shows and the index line does not hold, read from its .crate at publish:
-- the README and the package metadata (JSON).
CREATE TABLE version_details (
    version_id BIGINT PRIMARY KEY REFERENCES versions(id),
    readme TEXT,
    metadata TEXT NOT NULL
);

-- Dependencies on crates of this registry, by canonical name, for reverse-dependency lookups.
CREATE TABLE dependencies (
    version_id BIGINT NOT NULL REFERENCES versions(id),
    dep_canon_name TEXT COLLATE "C" NOT NULL,
    req TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (version_id, dep_canon_name, kind)
);
CREATE INDEX dependencies_dep_canon_name ON dependencies (dep_canon_name);

-- Downloads per version and UTC day (days since 1970-01-01), added to in batches.
CREATE TABLE version_downloads (
    version_id BIGINT NOT NULL REFERENCES versions(id),
    day BIGINT NOT NULL,
    downloads BIGINT NOT NULL,
    PRIMARY KEY (version_id, day)
);
