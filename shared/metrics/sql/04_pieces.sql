-- The complete timeline of every EVSE over the period: non-overlapping pieces that cover
-- [ps, pe) exactly, each with one category, UNKNOWN and NOT_IN_SERVICE included. first_hour and
-- last_hour number the hours (hours.idx, counted from ps) a piece starts and ends in: the daily
-- and hour-of-week steps spread pieces over hours and days by these numbers.
CREATE OR REPLACE TABLE pieces AS
WITH known AS (
    -- gap_f: where the unknown time before this segment begins (a segment before the
    -- period ends at or before ps, so the gap starts at ps).
    SELECT
        sg.k,
        sg.category,
        GREATEST(sg.f, p.ps) AS f,
        LEAST(sg.t, p.pe) AS t,
        GREATEST(COALESCE(sg.prev_t, p.ps), p.ps) AS gap_f
    FROM segments AS sg
    CROSS JOIN period AS p
    WHERE sg.f < p.pe AND sg.t > p.ps
),
timeline AS (
    SELECT k, category, f, t FROM known
    UNION ALL
    SELECT k, CAST('UNKNOWN' AS category), gap_f, f
    FROM known
    WHERE gap_f < f
    UNION ALL
    SELECT k.k, CAST('UNKNOWN' AS category), MAX(k.t), MAX(p.pe)
    FROM known AS k
    CROSS JOIN period AS p
    GROUP BY k.k
    HAVING MAX(k.t) < MAX(p.pe)
    UNION ALL
    SELECT u.k, CAST('UNKNOWN' AS category), p.ps, p.pe
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE u.k NOT IN (SELECT k FROM known)
),
cut AS (
    SELECT tl.k, tl.category, GREATEST(tl.f, u.svc_f) AS f, LEAST(tl.t, u.svc_t) AS t
    FROM timeline AS tl
    JOIN universe AS u ON u.k = tl.k
    WHERE GREATEST(tl.f, u.svc_f) < LEAST(tl.t, u.svc_t)
    UNION ALL
    -- Outside the in-service window the EVSE is NOT_IN_SERVICE, whatever its timeline says.
    SELECT u.k, CAST('NOT_IN_SERVICE' AS category), p.ps, u.svc_f
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE p.ps < u.svc_f
    UNION ALL
    SELECT u.k, CAST('NOT_IN_SERVICE' AS category), u.svc_t, p.pe
    FROM universe AS u
    CROSS JOIN period AS p
    WHERE u.svc_t < p.pe
)
SELECT
    c.*,
    date_diff('microsecond', p.ps, c.f) // 3600000000 AS first_hour,
    (date_diff('microsecond', p.ps, c.t) - 1) // 3600000000 AS last_hour
FROM cut AS c
CROSS JOIN period AS p;
