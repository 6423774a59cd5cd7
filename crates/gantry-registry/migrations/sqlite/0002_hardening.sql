-- Issue 12. One version by key (downloads, yanks): num determines num_no_build, so this is unique
-- whenever (crate_id, num_no_build) is.
CREATE UNIQUE INDEX versions_crate_num ON versions (crate_id, num);
-- gc: is a blob still referred to?
CREATE INDEX versions_cksum ON versions (cksum);
-- Rate-limit token buckets, shared by every instance: whole tokens, last refill in Unix ms.
CREATE TABLE rate_limit_buckets (
    user_id INTEGER NOT NULL REFERENCES users(id),
    action TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    last_refill INTEGER NOT NULL,
    PRIMARY KEY (user_id, action)
);
-- A publish relying on an already stored blob claims it, so gc does not remove it meanwhile.
CREATE TABLE blob_claims (
    cksum TEXT PRIMARY KEY,
    claimed_at INTEGER NOT NULL
);
