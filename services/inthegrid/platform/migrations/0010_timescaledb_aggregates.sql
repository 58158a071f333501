-- What TimescaleDB is for, when the server has it (0002 made the hypertables); nothing on plain
-- PostgreSQL, where the history queries aggregate the raw tables themselves (same answers).
--
-- Chunks: 15-minute prices are 96 rows per zone per day (~4,000 a day for 40 zones); 30-day chunks
-- keep each one around 100k rows, so a year is 12 chunks and a zone's year scans few of them.
-- Compression (Timescale License): segment by what queries filter on (zone / rule and pair), order
-- by delivery period; when it happens is a policy the recorder sets from its settings
-- (INTHEGRID_COMPRESS_AFTER_DAYS, INTHEGRID_RETENTION_DAYS).
-- Continuous aggregates (Timescale License), real-time (materialized_only = false, so the newest
-- periods not yet materialized are still counted): hourly and daily prices per zone, daily
-- opportunity figures per border. schema_info('aggregates') says whether they exist; the gateway
-- reads it. Each part is guarded, so a server that refuses one (Apache-only licence) keeps the rest.

DO $$
DECLARE
    aggregates text := 'none';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        INSERT INTO schema_info (key, value) VALUES ('aggregates', 'none')
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
        RETURN;
    END IF;

    PERFORM set_chunk_time_interval('prices', interval '30 days');
    PERFORM set_chunk_time_interval('opportunities', interval '30 days');
    PERFORM set_chunk_time_interval('opportunity_events', interval '30 days');

    BEGIN
        EXECUTE 'ALTER TABLE prices SET (timescaledb.compress,'
                ' timescaledb.compress_segmentby = ''zone, market'','
                ' timescaledb.compress_orderby = ''delivery_start DESC, resolution_minutes, source'')';
        EXECUTE 'ALTER TABLE opportunities SET (timescaledb.compress,'
                ' timescaledb.compress_segmentby = ''rule, pair_a, pair_b, market'','
                ' timescaledb.compress_orderby = ''delivery_start DESC'')';
        EXECUTE 'ALTER TABLE opportunity_events SET (timescaledb.compress,'
                ' timescaledb.compress_segmentby = ''rule, pair_a, pair_b, market'','
                ' timescaledb.compress_orderby = ''delivery_start DESC, revision'')';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'compression unavailable (%): chunks stay uncompressed', SQLERRM;
    END;

    BEGIN
        EXECUTE $sql$
            CREATE MATERIALIZED VIEW IF NOT EXISTS prices_hourly
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT zone, market, time_bucket(interval '1 hour', delivery_start) AS bucket,
                   avg(price_eur_mwh) AS avg_price, min(price_eur_mwh) AS min_price,
                   max(price_eur_mwh) AS max_price, count(*) AS periods
            FROM prices GROUP BY zone, market, bucket
            WITH NO DATA
        $sql$;
        EXECUTE $sql$
            CREATE MATERIALIZED VIEW IF NOT EXISTS prices_daily
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT zone, market, time_bucket(interval '1 day', delivery_start) AS bucket,
                   avg(price_eur_mwh) AS avg_price, min(price_eur_mwh) AS min_price,
                   max(price_eur_mwh) AS max_price, count(*) AS periods
            FROM prices GROUP BY zone, market, bucket
            WITH NO DATA
        $sql$;
        -- Congestion value: on a coupled border the spread times the capacity over the period is
        -- congestion income (what the TSOs collect), not a trader's profit.
        EXECUTE $sql$
            CREATE MATERIALIZED VIEW IF NOT EXISTS border_daily
            WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
            SELECT rule, pair_a, pair_b, market, time_bucket(interval '1 day', delivery_start) AS bucket,
                   count(*) AS periods, avg(spread) AS avg_spread, max(spread) AS max_spread,
                   max(net_eur_mwh) AS max_net, sum(profit_eur) AS profit_eur,
                   sum(spread * capacity_mw * period_hours) FILTER (WHERE coupled) AS congestion_value_eur
            FROM opportunities GROUP BY rule, pair_a, pair_b, market, bucket
            WITH NO DATA
        $sql$;
        -- Refresh what changed between 30 days and 1 hour ago, every 30 minutes; anything newer
        -- is aggregated on read (real-time), and late corrections re-materialize through invalidation.
        PERFORM add_continuous_aggregate_policy('prices_hourly', start_offset => interval '30 days',
            end_offset => interval '1 hour', schedule_interval => interval '30 minutes', if_not_exists => TRUE);
        PERFORM add_continuous_aggregate_policy('prices_daily', start_offset => interval '60 days',
            end_offset => interval '1 hour', schedule_interval => interval '30 minutes', if_not_exists => TRUE);
        PERFORM add_continuous_aggregate_policy('border_daily', start_offset => interval '60 days',
            end_offset => interval '1 hour', schedule_interval => interval '30 minutes', if_not_exists => TRUE);
        aggregates := 'continuous';
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'continuous aggregates unavailable (%): history aggregates read the raw tables', SQLERRM;
    END;

    INSERT INTO schema_info (key, value) VALUES ('aggregates', aggregates)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
END
$$;
