-- Sites: over the instants at which at least one in-service EVSE has a known status, the time
-- at which at least one of them is up (a sweep over the start and end of every known piece).
CREATE OR REPLACE TABLE site_any_up_us AS
WITH known AS (
    SELECT
        s.cpo_id,
        s.site_id,
        pc.k,
        pc.f,
        pc.t,
        pc.category IN ('AVAILABLE', 'IN_USE', 'RESERVED') AS up
    FROM pieces AS pc
    JOIN evse_static AS s ON s.k = pc.k
    WHERE pc.category NOT IN ('UNKNOWN', 'NOT_IN_SERVICE')
),
-- Per EVSE, merge touching known pieces into known blocks and touching up pieces into up
-- blocks first: the sweep below then runs over few intervals instead of every piece.
marked AS (
    SELECT
        *,
        COALESCE(LAG(t) OVER w <> f, TRUE) AS new_known,
        COALESCE(LAG(t) OVER w <> f OR NOT LAG(up) OVER w, TRUE) AS new_up
    FROM known
    WINDOW w AS (PARTITION BY k ORDER BY f)
),
numbered AS (
    SELECT
        *,
        SUM(CASE WHEN new_known THEN 1 ELSE 0 END) OVER w AS known_block,
        SUM(CASE WHEN new_up THEN 1 ELSE 0 END) OVER w AS up_block
    FROM marked
    WINDOW w AS (PARTITION BY k ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
known_blocks AS (
    SELECT cpo_id, site_id, MIN(f) AS f, MAX(t) AS t
    FROM numbered
    GROUP BY cpo_id, site_id, k, known_block
),
up_blocks AS (
    SELECT cpo_id, site_id, MIN(f) AS f, MAX(t) AS t
    FROM numbered
    WHERE up
    GROUP BY cpo_id, site_id, k, up_block
),
events AS (
    SELECT cpo_id, site_id, f AS moment, 1 AS d_known, 0 AS d_up FROM known_blocks
    UNION ALL
    SELECT cpo_id, site_id, t, -1, 0 FROM known_blocks
    UNION ALL
    SELECT cpo_id, site_id, f, 0, 1 FROM up_blocks
    UNION ALL
    SELECT cpo_id, site_id, t, 0, -1 FROM up_blocks
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
