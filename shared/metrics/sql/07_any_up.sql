-- Sites: over the instants at which at least one in-service EVSE has a known status, the time
-- at which at least one of them is up (a sweep over the start and end of each EVSE's blocks).
-- An EVSE's pieces cover the period exactly, so its known blocks are the stretches between its
-- not-known pieces (UNKNOWN, NO_DATA, NOT_IN_SERVICE, CLOSED), and its up blocks the stretches between those and its down
-- pieces: built from these few "hole" pieces, not from every piece.
CREATE OR REPLACE TABLE site_any_up_us AS
WITH holes AS (
    SELECT
        pc.k,
        pc.f,
        pc.t,
        pc.category IN ({{categories:not_known}}) AS unknown
    FROM pieces AS pc
    WHERE pc.category IN ({{categories:not_known}}, {{categories:down}})
),
blocks AS (
    -- kind 'known': between unknown holes; kind 'up': between any holes.
    SELECT k, 'known' AS kind, LAG(t) OVER (PARTITION BY k ORDER BY f) AS f, f AS t
    FROM holes
    WHERE unknown
    UNION ALL
    SELECT k, 'up', LAG(t) OVER (PARTITION BY k ORDER BY f), f
    FROM holes
    UNION ALL
    SELECT k, 'known', MAX(t), NULL FROM holes WHERE unknown GROUP BY k
    UNION ALL
    SELECT k, 'up', MAX(t), NULL FROM holes GROUP BY k
    UNION ALL
    SELECT s.k, kind.kind, NULL, NULL
    FROM evse_static AS s
    CROSS JOIN (VALUES ('known'), ('up')) AS kind(kind)
    WHERE NOT EXISTS (
        SELECT 1 FROM holes AS h
        WHERE h.k = s.k AND (kind.kind = 'up' OR h.unknown)
    )
),
bounded AS (
    SELECT s.cpo_id, s.site_id, b.kind, COALESCE(b.f, p.ps) AS f, COALESCE(b.t, p.pe) AS t
    FROM blocks AS b
    JOIN evse_static AS s ON s.k = b.k
    CROSS JOIN period AS p
),
events AS (
    SELECT cpo_id, site_id, f AS moment,
           CASE WHEN kind = 'known' THEN 1 ELSE 0 END AS d_known,
           CASE WHEN kind = 'up' THEN 1 ELSE 0 END AS d_up
    FROM bounded
    WHERE f < t
    UNION ALL
    SELECT cpo_id, site_id, t,
           CASE WHEN kind = 'known' THEN -1 ELSE 0 END,
           CASE WHEN kind = 'up' THEN -1 ELSE 0 END
    FROM bounded
    WHERE f < t
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
