-- No query reads usage_logs by created_at (listings go by id, alone or with key_id), and every
-- usage row paid for this index on insert. A time-range query can use id ranges: rows are
-- written in about the order they were recorded.
DROP INDEX IF EXISTS usage_logs_created_at_idx;
