"""Collection and storage: config, schema, normalisation, sources and the collect pass."""
