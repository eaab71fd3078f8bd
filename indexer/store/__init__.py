"""The source of truth and the index folder: SQLite store, on-disk layout, manifest, writer lock."""
