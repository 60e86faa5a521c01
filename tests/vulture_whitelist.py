"""Names vulture cannot see used: called by a framework or a library, never by our code by name.

Read by vulture only (see `[tool.vulture]` in pyproject.toml and tests/test_dead_code.py).
"""

# Overrides that their library calls.
_.list_commands  # click.Group: chargeatlarge.cli.LazyGroup
_.get_command  # click.Group: chargeatlarge.cli.LazyGroup
ctx  # the click.Context those overrides are given
_.should_exit  # uvicorn.Server's flag, read by its serve loop (simulator)
_.readable  # io.RawIOBase: shared.blobstore's streaming reader
_.seekable  # io.RawIOBase
_.readinto  # io.RawIOBase
_.__qualname__  # the ocpp library finds a handler by name (ingest_worker.feeds.ocpp_routes)
_.__signature__  # read by inspect.signature, which the ocpp library calls (ocpp_routes)

# Fields of data models: read by model_dump, the OpenAPI schema, CSV writers and templates.
_.reviewed_at  # shared.exclusions.store.Exclusion, ingest_worker.feeds.exclusions
_.business_details  # OCPI credentials role (ocpi_models)
_.total_count  # OCPI paginated response (ocpi_pull)
_.status_message  # OCPI response envelope (ocpi_models)
_.updated_at  # shared.programs.store.Assignment
_.read_at  # report_app.live_data: when the live snapshot was read

# The plain form of a definition, kept beside the fast one as the tests' reference.
_.status_intervals  # shared.timeline: the in-order timeline the property test compares with
_.locate  # shared.lga: one point; the job locates many at once with locate_many
_.read_archive  # ingest_worker.raw_archive: reads the archive back (tests, operators)
_.cached_months  # report_app.caches: what the cache holds now (tests)
_.SMALL_DATA_CONF  # shared.metrics.spark: Spark settings for small inputs (tests)
_.ocpp_charge_point  # ingest_worker.auth: the OCPP Basic dependency (tested); the OCPP route
# calls charge_point_feed itself, after its sub-protocol check
