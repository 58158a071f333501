-- Core tables. Natural keys make every write idempotent: a redelivered message hits its own row.

CREATE TABLE IF NOT EXISTS schema_info (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS prices (
    zone               text          NOT NULL,
    market             text          NOT NULL,
    resolution_minutes smallint      NOT NULL,
    delivery_start     timestamptz   NOT NULL,
    price_eur_mwh      numeric(10,2) NOT NULL,
    source             text          NOT NULL,
    published_at       timestamptz   NOT NULL,
    received_at        timestamptz   NOT NULL DEFAULT now(),
    stream_seq         bigint,
    PRIMARY KEY (zone, market, resolution_minutes, delivery_start, source)
);

-- "Latest price per zone" and a zone's history read this index backwards.
CREATE INDEX IF NOT EXISTS prices_market_zone_delivery_idx ON prices (market, zone, delivery_start DESC);

-- One row per opportunity (rule, pair, market, period), holding its newest revision.
CREATE TABLE IF NOT EXISTS opportunities (
    rule               text             NOT NULL,
    pair_a             text             NOT NULL,
    pair_b             text             NOT NULL,
    market             text             NOT NULL,
    delivery_start     timestamptz      NOT NULL,
    status             text             NOT NULL CHECK (status IN ('open', 'closed')),
    revision           integer          NOT NULL,
    buy_zone           text,
    sell_zone          text,
    buy_price          numeric(10,2),
    sell_price         numeric(10,2),
    spread             numeric(10,2),
    net_eur_mwh        numeric(10,2),
    cost_eur_mwh       numeric(12,4),
    loss_factor        double precision,
    path               text[],
    capacity_mw        double precision,
    profit_eur         numeric(14,2),
    period_hours       double precision,
    coupled            boolean,
    resolution_minutes smallint         NOT NULL,
    first_detected_at  timestamptz      NOT NULL,
    detected_at        timestamptz      NOT NULL,
    strategy           text,
    updated_at         timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (rule, pair_a, pair_b, market, delivery_start)
);

CREATE INDEX IF NOT EXISTS opportunities_delivery_idx ON opportunities (delivery_start DESC);
CREATE INDEX IF NOT EXISTS opportunities_open_idx ON opportunities (delivery_start) WHERE status = 'open';

-- Append-only log of every event; the revision makes redelivery a no-op.
CREATE TABLE IF NOT EXISTS opportunity_events (
    rule               text             NOT NULL,
    pair_a             text             NOT NULL,
    pair_b             text             NOT NULL,
    market             text             NOT NULL,
    delivery_start     timestamptz      NOT NULL,
    revision           integer          NOT NULL,
    kind               text             NOT NULL CHECK (kind IN ('opened', 'updated', 'closed')),
    buy_zone           text,
    sell_zone          text,
    buy_price          numeric(10,2),
    sell_price         numeric(10,2),
    spread             numeric(10,2),
    net_eur_mwh        numeric(10,2),
    cost_eur_mwh       numeric(12,4),
    loss_factor        double precision,
    path               text[],
    capacity_mw        double precision,
    profit_eur         numeric(14,2),
    period_hours       double precision,
    coupled            boolean,
    resolution_minutes smallint         NOT NULL,
    detected_at        timestamptz      NOT NULL,
    strategy           text,
    received_at        timestamptz      NOT NULL DEFAULT now(),
    stream_seq         bigint,
    UNIQUE (rule, pair_a, pair_b, market, delivery_start, revision)
);

CREATE INDEX IF NOT EXISTS opportunity_events_detected_idx ON opportunity_events (detected_at DESC);
