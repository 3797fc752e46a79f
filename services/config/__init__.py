"""The config service: versioned, schema-checked runtime settings with history, rollback and watch."""
