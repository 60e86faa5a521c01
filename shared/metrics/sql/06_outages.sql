-- One row per OUT_OF_ORDER or UNAVAILABLE run that overlaps the period (in service).
-- ended_at stays empty while the run goes on past the period's end.
CREATE OR REPLACE TABLE outages_us AS
SELECT
    i.k,
    i.category,
    i.f AS started_at,
    CASE WHEN i.t <= p.pe THEN i.t END AS ended_at,
    date_diff('microsecond', GREATEST(i.f, u.svc_f), LEAST(i.t, u.svc_t)) AS us_in_period
FROM islands AS i
JOIN universe AS u ON u.k = i.k
CROSS JOIN period AS p
WHERE i.category IN ('OUT_OF_ORDER', 'UNAVAILABLE')
  AND GREATEST(i.f, u.svc_f) < LEAST(i.t, u.svc_t);
