-- Prompt tokens the provider served from its cache (a part of prompt_tokens, billed at the
-- cached price); rows written before this migration have 0.
ALTER TABLE usage_logs ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
