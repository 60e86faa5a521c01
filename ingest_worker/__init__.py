"""The ingest worker: collects CPO status feeds into the observation store and the live snapshot."""
