-- Bot4 schema version 1. Portable SQL: it runs unchanged on SQLite and PostgreSQL.
-- Numbers that must stay exact (prices, quantities, money) are decimal strings; times are
-- integer nanoseconds since the epoch (UTC).

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    node_id     TEXT NOT NULL,
    mode        TEXT NOT NULL,
    strategy    TEXT,
    started_ns  BIGINT NOT NULL,
    stopped_ns  BIGINT,
    config      TEXT
);

-- Everything the node decided or learned, in order. seq is gap-free per node.
CREATE TABLE journal (
    node_id  TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    run_id   TEXT NOT NULL,
    ts_ns    BIGINT NOT NULL,
    kind     TEXT NOT NULL,
    payload  TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
);

CREATE TABLE instruments (
    instrument_id  TEXT PRIMARY KEY,
    venue          TEXT NOT NULL,
    payload        TEXT NOT NULL,
    updated_ns     BIGINT NOT NULL
);

-- Current state of every order; last_seq guards against an older event overwriting a newer one.
CREATE TABLE orders (
    client_order_id  TEXT PRIMARY KEY,
    node_id          TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    strategy_id      TEXT NOT NULL,
    instrument_id    TEXT NOT NULL,
    venue_order_id   TEXT,
    side             TEXT NOT NULL,
    order_type       TEXT NOT NULL,
    quantity         TEXT NOT NULL,
    price            TEXT,
    trigger_price    TEXT,
    time_in_force    TEXT NOT NULL,
    status           TEXT NOT NULL,
    filled_qty       TEXT NOT NULL,
    avg_px           TEXT,
    spec             TEXT NOT NULL,
    ts_init          BIGINT NOT NULL,
    ts_last          BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL
);
CREATE INDEX orders_by_status ON orders (status);
CREATE INDEX orders_by_run ON orders (run_id);

CREATE TABLE order_events (
    node_id          TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    client_order_id  TEXT NOT NULL,
    kind             TEXT NOT NULL,
    ts_event         BIGINT NOT NULL,
    payload          TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
);
CREATE INDEX order_events_by_order ON order_events (client_order_id, seq);

-- A fill is stored once per venue trade, whatever replays or reconnects deliver it again.
CREATE TABLE fills (
    venue                TEXT NOT NULL,
    trade_id             TEXT NOT NULL,
    node_id              TEXT NOT NULL,
    run_id               TEXT NOT NULL,
    seq                  BIGINT NOT NULL,
    client_order_id      TEXT NOT NULL,
    venue_order_id       TEXT,
    instrument_id        TEXT NOT NULL,
    side                 TEXT NOT NULL,
    last_qty             TEXT NOT NULL,
    last_px              TEXT NOT NULL,
    commission           TEXT NOT NULL,
    commission_currency  TEXT NOT NULL,
    liquidity_side       TEXT NOT NULL,
    ts_event             BIGINT NOT NULL,
    PRIMARY KEY (venue, trade_id)
);
CREATE INDEX fills_by_run ON fills (run_id, seq);

-- Snapshots, one row per change; the current one is the highest seq.
CREATE TABLE positions (
    node_id        TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    run_id         TEXT NOT NULL,
    instrument_id  TEXT NOT NULL,
    side           TEXT NOT NULL,
    quantity       TEXT NOT NULL,
    signed_qty     TEXT NOT NULL,
    avg_px_open    TEXT,
    realized_pnl   TEXT NOT NULL,
    fees_paid      TEXT NOT NULL,
    currency       TEXT NOT NULL,
    ts_event       BIGINT NOT NULL,
    PRIMARY KEY (node_id, seq, instrument_id)
);
CREATE INDEX positions_by_instrument ON positions (instrument_id, seq);

CREATE TABLE balances (
    node_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    run_id      TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    currency    TEXT NOT NULL,
    total       TEXT NOT NULL,
    locked      TEXT NOT NULL,
    free        TEXT NOT NULL,
    ts_event    BIGINT NOT NULL,
    PRIMARY KEY (node_id, seq, account_id, currency)
);
CREATE INDEX balances_by_account ON balances (account_id, currency, seq);
