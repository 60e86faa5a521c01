-- Per site and local hour of the week: in-use and known time of its in-service EVSEs.
-- Local clock hours are 60 minutes of UTC each (a DST change skips or repeats a label), so
-- every piece is spread over the hours it touches by number (hours.idx) rather than by a
-- range join.
CREATE OR REPLACE TABLE hour_of_week_us AS
WITH known AS (
    SELECT
        s.cpo_id,
        s.site_id,
        pc.category,
        pc.f,
        pc.t,
        date_diff('microsecond', p.hs, pc.f) // 3600000000 AS first_idx,
        (date_diff('microsecond', p.hs, pc.t) - 1) // 3600000000 AS last_idx
    FROM pieces AS pc
    JOIN evse_static AS s ON s.k = pc.k
    CROSS JOIN (SELECT MIN(f) AS hs FROM hours) AS p
    WHERE pc.category NOT IN ('UNKNOWN', 'NOT_IN_SERVICE')
),
spread AS (
    SELECT cpo_id, site_id, category, f, t, UNNEST(range(first_idx, last_idx + 1)) AS idx
    FROM known
),
clipped AS (
    SELECT
        sp.cpo_id,
        sp.site_id,
        h.hour_of_week,
        sp.category,
        date_diff('microsecond', GREATEST(sp.f, h.f), LEAST(sp.t, h.t)) AS us
    FROM spread AS sp
    JOIN hours AS h ON h.idx = sp.idx
),
sums AS (
    SELECT
        cpo_id,
        site_id,
        hour_of_week,
        SUM(CASE WHEN category = 'IN_USE' THEN us ELSE 0 END) AS in_use_us,
        SUM(us) AS known_us
    FROM clipped
    GROUP BY cpo_id, site_id, hour_of_week
),
grid AS (
    SELECT DISTINCT s.cpo_id, s.site_id, h.hour_of_week
    FROM evse_static AS s
    CROSS JOIN hours AS h
)
SELECT
    g.cpo_id,
    g.site_id,
    g.hour_of_week,
    COALESCE(x.in_use_us, 0) AS in_use_us,
    COALESCE(x.known_us, 0) AS known_us
FROM grid AS g
LEFT JOIN sums AS x
    ON x.cpo_id = g.cpo_id AND x.site_id = g.site_id AND x.hour_of_week = g.hour_of_week;
