-- Transliterate and DetectLanguage calls are recorded too, not only TranslateText.
--
-- One request table for every NMT method, told apart by `method`, rather than a table per
-- method: a request row means the same thing for all three (who called, when, how many texts
-- and characters, outcome, latency), so per-caller character accounting — the numbers the
-- daily quota is metered from — and audits stay one query over nmt_requests. The default keeps
-- the rows written before this migration correct, as they were all TranslateText calls.
ALTER TABLE nmt_requests ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT 'TranslateText';
CREATE INDEX IF NOT EXISTS nmt_requests_method_created_time_idx ON nmt_requests (method, created_time);

-- Per-text results: `translated_text` is the text in the target language or script (a
-- transliteration's best candidate; '' for a detection, whose best language is
-- `source_language_code`). `alternatives` holds what has more than one answer: a
-- transliteration's candidates (strings, best first) or a detection's languages
-- ({"language_code", "confidence"}, best first); '[]' for a translation.
ALTER TABLE nmt_results ADD COLUMN IF NOT EXISTS alternatives jsonb NOT NULL DEFAULT '[]';
