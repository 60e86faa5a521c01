-- The minute columns per EVSE per local calendar day (days: local days as UTC intervals).
-- A piece's first and last days come from the hours it starts and ends in (pieces.first_hour,
-- last_hour), so each piece meets only its own day or two, not all of them.
CREATE OR REPLACE TABLE daily_us AS
WITH spread AS (
    SELECT pc.k, pc.category, pc.excluded, pc.f, pc.t, UNNEST(range(hf.day_no, hl.day_no + 1)) AS day_no
    FROM pieces AS pc
    JOIN hours AS hf ON hf.idx = pc.first_hour
    JOIN hours AS hl ON hl.idx = pc.last_hour
),
clipped AS (
    SELECT
        sp.k,
        d.day,
        sp.category,
        sp.excluded,
        date_diff('microsecond', GREATEST(sp.f, d.f), LEAST(sp.t, d.t)) AS us
    FROM spread AS sp
    JOIN days AS d ON d.day_no = sp.day_no
)
SELECT
    k,
    day,
    SUM(us) AS period_us,
    {{category_sums:us}},
    SUM(CASE WHEN excluded THEN us ELSE 0 END) AS excluded_us
FROM clipped
GROUP BY k, day;
