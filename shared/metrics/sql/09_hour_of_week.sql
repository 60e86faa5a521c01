-- Per site and local hour of the week: in-use and known time of its in-service EVSEs.
CREATE OR REPLACE TEMP TABLE hour_of_week_us AS
WITH clipped AS (
    SELECT
        s.cpo_id,
        s.site_id,
        h.hour_of_week,
        pc.category,
        date_diff('microsecond', GREATEST(pc.f, h.f), LEAST(pc.t, h.t)) AS us
    FROM pieces AS pc
    JOIN evse_static AS s ON s.cpo_id = pc.cpo_id AND s.evse_uid = pc.evse_uid
    JOIN hours AS h ON pc.f < h.t AND pc.t > h.f
    WHERE pc.category NOT IN ('UNKNOWN', 'NOT_IN_SERVICE')
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
