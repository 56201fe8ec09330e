-- A coverage snapshot holds the whole matrix's results in one array (about a megabyte at a million events,
-- compressed to two thirds by either method), and a rebuild writes one per week of history: lz4 compresses
-- several times faster than pglz (the default) and `heatmap(asOf)`, which starts from a snapshot, reads it back
-- faster. Servers built without lz4 keep pglz; rows written before stay as they are until rewritten.
DO $$
BEGIN
    IF 'lz4' = ANY (SELECT unnest(enumvals) FROM pg_settings WHERE name = 'default_toast_compression') THEN
        ALTER TABLE coverage_snapshots ALTER COLUMN results SET COMPRESSION lz4;
    END IF;
END
$$;
