CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    -- JSON array of endpoint scopes, NULL for a legacy all-powerful token
    scopes TEXT,
    -- JSON array of crate patterns, NULL or [] for all crates
    crate_patterns TEXT,
    expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE crates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    -- replace(lower(name), '-', '_'): one crate per canonical name
    canon_name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE crate_owners (
    crate_id INTEGER NOT NULL REFERENCES crates(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (crate_id, user_id)
);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    crate_id INTEGER NOT NULL REFERENCES crates(id),
    num TEXT NOT NULL,
    -- versions equal without build metadata cannot coexist
    num_no_build TEXT NOT NULL,
    cksum TEXT NOT NULL,
    -- the index line as published (yanked is applied when the file is generated)
    index_line TEXT NOT NULL,
    yanked INTEGER NOT NULL DEFAULT 0,
    published_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    UNIQUE (crate_id, num_no_build)
);
