-- Sites: over the instants at which at least one in-service EVSE has a known status, the time
-- at which at least one of them is up (a sweep over the start and end of every known piece).
CREATE OR REPLACE TEMP TABLE site_any_up_us AS
WITH events AS (
    SELECT s.cpo_id, s.site_id, pc.f AS moment, 1 AS d_known,
           CASE WHEN pc.category IN ('AVAILABLE', 'IN_USE', 'RESERVED') THEN 1 ELSE 0 END AS d_up
    FROM pieces AS pc
    JOIN evse_static AS s ON s.cpo_id = pc.cpo_id AND s.evse_uid = pc.evse_uid
    WHERE pc.category NOT IN ('UNKNOWN', 'NOT_IN_SERVICE')
    UNION ALL
    SELECT s.cpo_id, s.site_id, pc.t, -1,
           CASE WHEN pc.category IN ('AVAILABLE', 'IN_USE', 'RESERVED') THEN -1 ELSE 0 END
    FROM pieces AS pc
    JOIN evse_static AS s ON s.cpo_id = pc.cpo_id AND s.evse_uid = pc.evse_uid
    WHERE pc.category NOT IN ('UNKNOWN', 'NOT_IN_SERVICE')
),
steps AS (
    SELECT cpo_id, site_id, moment, SUM(d_known) AS d_known, SUM(d_up) AS d_up
    FROM events
    GROUP BY cpo_id, site_id, moment
),
levels AS (
    SELECT
        cpo_id,
        site_id,
        moment,
        SUM(d_known) OVER w AS known_n,
        SUM(d_up) OVER w AS up_n,
        LEAD(moment) OVER (PARTITION BY cpo_id, site_id ORDER BY moment) AS next_moment
    FROM steps
    WINDOW w AS (PARTITION BY cpo_id, site_id ORDER BY moment ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    cpo_id,
    site_id,
    SUM(CASE WHEN known_n > 0 THEN date_diff('microsecond', moment, next_moment) ELSE 0 END) AS any_known_us,
    SUM(CASE WHEN up_n > 0 THEN date_diff('microsecond', moment, next_moment) ELSE 0 END) AS any_up_us
FROM levels
WHERE next_moment IS NOT NULL
GROUP BY cpo_id, site_id;
