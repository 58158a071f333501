-- TimescaleDB when the server has it (shared_preload_libraries), plain indexed tables otherwise.
-- Every unique key above includes delivery_start, the partitioning column, as hypertables require.
-- The choice is recorded in schema_info('storage') and logged by the migration runner.

DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'timescaledb unavailable (%): using plain PostgreSQL tables', SQLERRM;
    END;

    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        -- PL/pgSQL binds names at run time, so these calls do not break servers without TimescaleDB.
        PERFORM create_hypertable('prices', 'delivery_start', chunk_time_interval => interval '7 days',
                                  if_not_exists => TRUE, migrate_data => TRUE);
        PERFORM create_hypertable('opportunities', 'delivery_start', chunk_time_interval => interval '30 days',
                                  if_not_exists => TRUE, migrate_data => TRUE);
        PERFORM create_hypertable('opportunity_events', 'delivery_start',
                                  chunk_time_interval => interval '30 days',
                                  if_not_exists => TRUE, migrate_data => TRUE);
        INSERT INTO schema_info (key, value) VALUES ('storage', 'timescaledb')
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    ELSE
        INSERT INTO schema_info (key, value) VALUES ('storage', 'postgresql')
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    END IF;
END
$$;
