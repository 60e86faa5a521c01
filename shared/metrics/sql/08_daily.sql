-- The minute columns per EVSE per local calendar day (days: local days as UTC intervals).
-- A piece's first and last days come from the hours it starts and ends in (pieces.first_hour,
-- last_hour), so each piece meets only its own day or two, not all of them. Most pieces lie
-- inside one day and are summed whole; only those crossing a local midnight are spread over
-- their days and clipped. Sums are by day number; the date is joined to the (few) sums.
-- (located is read twice; NOT MATERIALIZED reads the pieces twice rather than store a copy
-- of every piece.) The durations are summed as DOUBLE and stored as BIGINT: DuckDB sums BIGINT
-- in 128-bit states, which for 1.5 M (EVSE, day) groups of a national month push the pieces
-- out to disk; a day holds under 2^53 microseconds, so every partial sum is an exact integer.
CREATE OR REPLACE TABLE daily_us AS
WITH located AS NOT MATERIALIZED (
    SELECT pc.k, pc.category, pc.excluded, pc.f, pc.t, hf.day_no AS first_day, hl.day_no AS last_day
    FROM pieces AS pc
    JOIN hours AS hf ON hf.idx = pc.first_hour
    JOIN hours AS hl ON hl.idx = pc.last_hour
),
spread AS (
    SELECT l.k, l.category, l.excluded, l.f, l.t, UNNEST(range(l.first_day, l.last_day + 1)) AS day_no
    FROM located AS l
    WHERE l.first_day < l.last_day
),
clipped AS (
    SELECT
        k,
        first_day AS day_no,
        category,
        excluded,
        CAST(date_diff('microsecond', f, t) AS DOUBLE) AS us
    FROM located
    WHERE first_day = last_day
    UNION ALL
    SELECT
        sp.k,
        sp.day_no,
        sp.category,
        sp.excluded,
        CAST(date_diff('microsecond', GREATEST(sp.f, d.f), LEAST(sp.t, d.t)) AS DOUBLE) AS us
    FROM spread AS sp
    JOIN days AS d ON d.day_no = sp.day_no
),
sums AS (
    SELECT
        k,
        day_no,
        SUM(us) AS period_us,
        {{category_sums:us}},
        SUM(CASE WHEN excluded THEN us ELSE 0 END) AS excluded_us
    FROM clipped
    GROUP BY k, day_no
)
SELECT s.k, d.day, {{bigint_sums:s}}
FROM sums AS s
JOIN days AS d ON d.day_no = s.day_no;
