-- Per site and local hour of the week: in-use and known time of its in-service EVSEs.
-- Local clock hours are 60 minutes of UTC each (a DST change skips or repeats a label), so
-- every piece is spread over the hours it touches by number (pieces.first_hour … last_hour =
-- hours.idx) rather than by a range join. Each EVSE's pieces cover every hour exactly, so known
-- time is the hours' whole length less the UNKNOWN, NO_DATA, NOT_IN_SERVICE and CLOSED pieces: only those (few)
-- and the IN_USE pieces need spreading, not every known piece.
CREATE OR REPLACE TABLE hour_of_week_us AS
WITH wanted AS (
    SELECT
        s.site_k,
        pc.category = CAST('IN_USE' AS category) AS in_use,
        pc.f,
        pc.t,
        pc.first_hour,
        pc.last_hour
    FROM pieces AS pc
    JOIN evse_static AS s ON s.k = pc.k
    WHERE pc.category IN (CAST('IN_USE' AS category), {{categories:not_known}})
),
spread AS (
    SELECT w.site_k, w.in_use, w.f, w.t, UNNEST(range(w.first_hour, w.last_hour + 1)) AS idx
    FROM wanted AS w
    WHERE w.first_hour < w.last_hour
),
-- A piece inside one hour is summed whole; only longer ones are spread and clipped. (Summed as
-- DOUBLE, stored as BIGINT, as in the daily step: a site's month is far under 2^53 µs.)
clipped AS (
    SELECT
        w.site_k,
        h.hour_of_week,
        w.in_use,
        CAST(date_diff('microsecond', w.f, w.t) AS DOUBLE) AS us
    FROM wanted AS w
    JOIN hours AS h ON h.idx = w.first_hour
    WHERE w.first_hour = w.last_hour
    UNION ALL
    SELECT
        sp.site_k,
        h.hour_of_week,
        sp.in_use,
        CAST(date_diff('microsecond', GREATEST(sp.f, h.f), LEAST(sp.t, h.t)) AS DOUBLE) AS us
    FROM spread AS sp
    JOIN hours AS h ON h.idx = sp.idx
),
sums AS (
    SELECT
        site_k,
        hour_of_week,
        SUM(CASE WHEN in_use THEN us ELSE 0 END) AS in_use_us,
        SUM(CASE WHEN in_use THEN 0 ELSE us END) AS not_known_us
    FROM clipped
    GROUP BY site_k, hour_of_week
),
-- Every EVSE of the site over every hour with that label: the time that could be known.
capacity AS (
    SELECT s.site_k, h.hour_of_week, s.evse_count * h.us AS us
    FROM (SELECT site_k, COUNT(*) AS evse_count FROM evse_static GROUP BY site_k) AS s
    CROSS JOIN (
        SELECT hour_of_week, CAST(SUM(date_diff('microsecond', f, t)) AS BIGINT) AS us
        FROM hours
        GROUP BY hour_of_week
    ) AS h
)
-- (The site's names are joined on output: millions of rows here, one per site there.)
SELECT
    c.site_k,
    c.hour_of_week,
    CAST(COALESCE(x.in_use_us, 0) AS BIGINT) AS in_use_us,
    c.us - CAST(COALESCE(x.not_known_us, 0) AS BIGINT) AS known_us
FROM capacity AS c
LEFT JOIN sums AS x
    ON x.site_k = c.site_k AND x.hour_of_week = c.hour_of_week;
