-- Issue 15: a change log that lets every instance evict exactly the cached index files that changed,
-- and the pull-through mirror's shared state (index files from the upstream, mirrored .crate files).

-- One counter, bumped by every change to what an index file shows, in the changing transaction, so
-- its values follow commit order.
CREATE TABLE index_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    gen INTEGER NOT NULL
);
INSERT INTO index_generation (id, gen) VALUES (1, 0);
CREATE TABLE index_changes (
    gen INTEGER PRIMARY KEY,
    -- 'hosted' (name = canonical crate name) or 'mirror' (name = lowercase name as in the index path)
    namespace TEXT NOT NULL,
    -- '*' when the crate could not be named: every file of the namespace is evicted
    name TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
CREATE INDEX index_changes_changed_at ON index_changes (changed_at);

CREATE TRIGGER versions_index_insert AFTER INSERT ON versions BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES ((SELECT gen FROM index_generation WHERE id = 1), 'hosted',
                coalesce((SELECT canon_name FROM crates WHERE id = NEW.crate_id), '*'),
                CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER versions_index_update AFTER UPDATE ON versions BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES ((SELECT gen FROM index_generation WHERE id = 1), 'hosted',
                coalesce((SELECT canon_name FROM crates WHERE id = NEW.crate_id), '*'),
                CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER versions_index_delete AFTER DELETE ON versions BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES ((SELECT gen FROM index_generation WHERE id = 1), 'hosted',
                coalesce((SELECT canon_name FROM crates WHERE id = OLD.crate_id), '*'),
                CAST(strftime('%s', 'now') AS INTEGER));
END;

-- The upstream's index files, byte for byte, with its validators for conditional revalidation.
CREATE TABLE mirror_index (
    -- lowercase crate name, as in the index path
    name TEXT PRIMARY KEY,
    -- 0 when the upstream answered 404/410/451 (the body is then empty)
    present INTEGER NOT NULL,
    body BLOB NOT NULL,
    upstream_etag TEXT,
    upstream_last_modified TEXT,
    -- Unix milliseconds of the upstream's last answer (200 or 304)
    checked_at INTEGER NOT NULL
);
CREATE TRIGGER mirror_index_insert AFTER INSERT ON mirror_index BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES ((SELECT gen FROM index_generation WHERE id = 1), 'mirror', NEW.name,
                CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER mirror_index_update AFTER UPDATE ON mirror_index
    WHEN OLD.body IS NOT NEW.body OR OLD.present IS NOT NEW.present BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES ((SELECT gen FROM index_generation WHERE id = 1), 'mirror', NEW.name,
                CAST(strftime('%s', 'now') AS INTEGER));
END;

-- .crate files fetched from the upstream and verified (the bytes are in the blob store under
-- crates/<cksum[..2]>/<cksum>.crate, like hosted ones): a blob listed here is referenced.
CREATE TABLE mirror_crates (
    cksum TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    size INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL
);
