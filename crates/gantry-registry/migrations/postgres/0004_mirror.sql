-- Issue 15: a change log that lets every instance evict exactly the cached index files that changed,
-- and the pull-through mirror's shared state (index files from the upstream, mirrored .crate files).

-- One counter, bumped by every change to what an index file shows, in the changing transaction. The
-- row lock it takes is held until commit, so counter values follow commit order and a reader never
-- sees a change logged after one it has not seen yet.
CREATE TABLE index_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    gen BIGINT NOT NULL
);
INSERT INTO index_generation (id, gen) VALUES (1, 0);
CREATE TABLE index_changes (
    gen BIGINT PRIMARY KEY,
    -- 'hosted' (name = canonical crate name) or 'mirror' (name = lowercase name as in the index path)
    namespace TEXT NOT NULL,
    -- '*' when the crate could not be named: every file of the namespace is evicted
    name TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);
CREATE INDEX index_changes_changed_at ON index_changes (changed_at);

-- Logs one change and wakes the instances listening on `gantry_index_changes` (at commit).
CREATE FUNCTION gantry_log_index_change(ns TEXT, changed TEXT) RETURNS void AS $$
DECLARE
    g BIGINT;
BEGIN
    UPDATE index_generation SET gen = gen + 1 WHERE id = 1 RETURNING gen INTO g;
    INSERT INTO index_changes (gen, namespace, name, changed_at)
        VALUES (g, ns, coalesce(changed, '*'), CAST(extract(epoch FROM now()) AS BIGINT));
    PERFORM pg_notify('gantry_index_changes', '');
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION gantry_versions_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM gantry_log_index_change('hosted', (SELECT canon_name FROM crates WHERE id = OLD.crate_id));
    ELSE
        PERFORM gantry_log_index_change('hosted', (SELECT canon_name FROM crates WHERE id = NEW.crate_id));
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER versions_index_change AFTER INSERT OR UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION gantry_versions_changed();

-- The upstream's index files, byte for byte, with its validators for conditional revalidation.
CREATE TABLE mirror_index (
    -- lowercase crate name, as in the index path
    name TEXT PRIMARY KEY,
    -- 0 when the upstream answered 404/410/451 (the body is then empty)
    present BIGINT NOT NULL,
    body BYTEA NOT NULL,
    upstream_etag TEXT,
    upstream_last_modified TEXT,
    -- Unix milliseconds of the upstream's last answer (200 or 304)
    checked_at BIGINT NOT NULL
);
CREATE FUNCTION gantry_mirror_index_changed() RETURNS trigger AS $$
BEGIN
    PERFORM gantry_log_index_change('mirror', NEW.name);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mirror_index_insert AFTER INSERT ON mirror_index
    FOR EACH ROW EXECUTE FUNCTION gantry_mirror_index_changed();
CREATE TRIGGER mirror_index_update AFTER UPDATE ON mirror_index
    FOR EACH ROW WHEN (OLD.body IS DISTINCT FROM NEW.body OR OLD.present IS DISTINCT FROM NEW.present)
    EXECUTE FUNCTION gantry_mirror_index_changed();

-- .crate files fetched from the upstream and verified (the bytes are in the blob store under
-- crates/<cksum[..2]>/<cksum>.crate, like hosted ones): a blob listed here is referenced.
CREATE TABLE mirror_crates (
    cksum TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    size BIGINT NOT NULL,
    fetched_at BIGINT NOT NULL
);
