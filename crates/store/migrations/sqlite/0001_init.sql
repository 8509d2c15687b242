-- Initial schema (SQLite). Timestamps are unix milliseconds; JSON columns are TEXT.

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    key_hash     TEXT    NOT NULL,
    key_prefix   TEXT    NOT NULL,
    quota_micros INTEGER,
    used_micros  INTEGER NOT NULL DEFAULT 0,
    models       TEXT,
    rpm          INTEGER,
    expires_at   INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX api_keys_key_hash_idx ON api_keys (key_hash);

CREATE TABLE channels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    base_url   TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    models     TEXT    NOT NULL DEFAULT '[]',
    model_map  TEXT    NOT NULL DEFAULT '{}',
    priority   INTEGER NOT NULL DEFAULT 0,
    weight     INTEGER NOT NULL DEFAULT 1,
    enabled    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX channels_name_idx ON channels (name);

-- No foreign keys on usage_logs: the log is append-only and must never reject a
-- batch because a key or channel was removed in the meantime.
CREATE TABLE usage_logs (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    key_id            INTEGER,
    channel_id        INTEGER,
    endpoint          TEXT    NOT NULL,
    requested_model   TEXT    NOT NULL,
    upstream_model    TEXT,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    total_tokens      INTEGER NOT NULL,
    estimated         INTEGER NOT NULL,
    cost_micros       INTEGER NOT NULL,
    latency_ms        INTEGER NOT NULL,
    ttft_ms           INTEGER,
    status            INTEGER NOT NULL,
    error_code        TEXT,
    stream            INTEGER NOT NULL
) STRICT;

CREATE INDEX usage_logs_key_id_idx ON usage_logs (key_id, id);
CREATE INDEX usage_logs_created_at_idx ON usage_logs (created_at);
