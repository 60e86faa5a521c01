-- One row per OUT_OF_ORDER or UNAVAILABLE run with in-service time inside the period (spec 4,
-- 4.1, 4.3). ended_at stays empty while the run goes on past the period's end. causes: the
-- distinct causes of the approved exclusions that overlap its excluded time, sorted.
CREATE OR REPLACE TABLE outages_us AS
WITH causes AS (
    SELECT pc.k, pc.run_f, string_agg(DISTINCT x.cause, ',' ORDER BY x.cause) AS causes
    FROM pieces AS pc
    JOIN exclusion_evse AS x ON x.k = pc.k AND x.f < pc.t AND x.t > pc.f
    WHERE pc.excluded
    GROUP BY pc.k, pc.run_f
)
SELECT
    r.k,
    r.category,
    r.run_f AS started_at,
    CASE WHEN i.t <= p.pe THEN i.t END AS ended_at,
    r.us AS us_in_period,
    r.excluded_us AS excluded_us_in_period,
    COALESCE(c.causes, '') AS causes
FROM run_us AS r
JOIN islands AS i ON i.k = r.k AND i.f = r.run_f
LEFT JOIN causes AS c ON c.k = r.k AND c.run_f = r.run_f
CROSS JOIN period AS p
WHERE r.category IN ({{categories:down}});
