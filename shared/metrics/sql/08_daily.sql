-- The minute columns per EVSE per local calendar day (days: local days as UTC intervals).
-- A piece's first and last days come from the hours it starts and ends in (by number, as in
-- the hour-of-week step), so each piece meets only its own day or two, not all of them.
CREATE OR REPLACE TABLE daily_us AS
WITH spans AS (
    SELECT
        pc.k,
        pc.category,
        pc.f,
        pc.t,
        date_diff('microsecond', p.hs, pc.f) // 3600000000 AS first_idx,
        (date_diff('microsecond', p.hs, pc.t) - 1) // 3600000000 AS last_idx
    FROM pieces AS pc
    CROSS JOIN (SELECT MIN(f) AS hs FROM hours) AS p
),
spread AS (
    SELECT s.k, s.category, s.f, s.t, UNNEST(range(hf.day_no, hl.day_no + 1)) AS day_no
    FROM spans AS s
    JOIN hours AS hf ON hf.idx = s.first_idx
    JOIN hours AS hl ON hl.idx = s.last_idx
),
clipped AS (
    SELECT
        sp.k,
        d.day,
        sp.category,
        date_diff('microsecond', GREATEST(sp.f, d.f), LEAST(sp.t, d.t)) AS us
    FROM spread AS sp
    JOIN days AS d ON d.day_no = sp.day_no
)
SELECT
    k,
    day,
    SUM(us) AS period_us,
    SUM(CASE WHEN category = 'NOT_IN_SERVICE' THEN us ELSE 0 END) AS not_in_service_us,
    SUM(CASE WHEN category = 'AVAILABLE' THEN us ELSE 0 END) AS available_us,
    SUM(CASE WHEN category = 'IN_USE' THEN us ELSE 0 END) AS in_use_us,
    SUM(CASE WHEN category = 'RESERVED' THEN us ELSE 0 END) AS reserved_us,
    SUM(CASE WHEN category = 'OUT_OF_ORDER' THEN us ELSE 0 END) AS out_of_order_us,
    SUM(CASE WHEN category = 'UNAVAILABLE' THEN us ELSE 0 END) AS unavailable_us,
    SUM(CASE WHEN category = 'UNKNOWN' THEN us ELSE 0 END) AS unknown_us
FROM clipped
GROUP BY k, day;
