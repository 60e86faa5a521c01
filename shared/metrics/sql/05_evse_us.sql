-- Per EVSE: microseconds in each piece category (the sums are generated from
-- formulas.PIECE_CATEGORIES), excluded down time, and the run counts of spec 4 / 4.1.
CREATE OR REPLACE TABLE evse_us AS
SELECT
    k,
    SUM(date_diff('microsecond', f, t)) AS period_us,
    {{category_sums:date_diff('microsecond', f, t)}},
    SUM(CASE WHEN excluded THEN date_diff('microsecond', f, t) ELSE 0 END) AS excluded_us
FROM pieces
GROUP BY k;

-- Every down run with in-service time inside the period (and, at EVSEs whose pieces were
-- split, every IN_USE run too): that time, and how much of it approved exclusions cover. A run
-- crossing a closed stretch stays one run (one run_f).
CREATE OR REPLACE TABLE run_us AS
SELECT
    k,
    run_f,
    MIN(category) AS category,
    SUM(date_diff('microsecond', f, t)) AS us,
    SUM(CASE WHEN excluded THEN date_diff('microsecond', f, t) ELSE 0 END) AS excluded_us
FROM pieces
WHERE category IN ({{categories:down}}) OR (split AND category = CAST('IN_USE' AS category))
GROUP BY k, run_f;

-- A run counts where its first in-service instant lies (spec 4.1). A run with in-service time
-- inside the period has its first one inside unless it began before the period and was in
-- service somewhere in [run_f, ps): in service (commissioning window) and, with opening hours,
-- inside an open window (open_windows reaches back far enough to decide this). At an EVSE
-- whose pieces were not split, a run's in-service pieces follow each other, so its first one
-- is the piece that starts at run_f, or at the in-service window's start.
CREATE OR REPLACE TABLE evse_counts AS
WITH candidates AS (
    SELECT k, category, run_f
    FROM run_us
    WHERE category IN (CAST('IN_USE' AS category), CAST('OUT_OF_ORDER' AS category))
    UNION ALL
    SELECT pc.k, pc.category, pc.run_f
    FROM pieces AS pc
    JOIN universe AS u ON u.k = pc.k
    WHERE pc.category = CAST('IN_USE' AS category)
      AND NOT pc.split
      AND (pc.f = pc.run_f OR pc.f = u.svc_f)
),
under_way AS (
    SELECT
        c.k,
        c.category,
        u.hk,
        GREATEST(c.run_f, COALESCE(u.service_from, c.run_f)) AS before_f,
        LEAST(p.ps, COALESCE(u.service_until, p.ps)) AS before_t
    FROM candidates AS c
    JOIN universe AS u ON u.k = c.k
    CROSS JOIN period AS p
    WHERE c.run_f < p.ps
),
begun_before AS (
    SELECT b.k, b.category
    FROM under_way AS b
    WHERE b.before_f < b.before_t
      AND (
          b.hk IS NULL
          OR EXISTS (
              SELECT 1 FROM open_windows AS w
              WHERE w.hk = b.hk AND w.f < b.before_t AND w.t > b.before_f
          )
      )
),
counted AS (
    SELECT k, category, COUNT(*) AS n FROM candidates GROUP BY k, category
    UNION ALL
    SELECT k, category, -COUNT(*) FROM begun_before GROUP BY k, category
)
SELECT
    k,
    SUM(CASE WHEN category = CAST('IN_USE' AS category) THEN n ELSE 0 END) AS in_use_sessions,
    SUM(CASE WHEN category = CAST('OUT_OF_ORDER' AS category) THEN n ELSE 0 END) AS outage_count
FROM counted
GROUP BY k;

CREATE OR REPLACE TABLE evse_us_counted AS
SELECT
    d.*,
    COALESCE(c.in_use_sessions, 0) AS in_use_sessions,
    COALESCE(c.outage_count, 0) AS outage_count,
    COALESCE(l.longest_outage_us, 0) AS longest_outage_us
FROM evse_us AS d
LEFT JOIN evse_counts AS c ON c.k = d.k
LEFT JOIN (
    SELECT k, MAX(us) AS longest_outage_us
    FROM run_us
    WHERE category = CAST('OUT_OF_ORDER' AS category)
    GROUP BY k
) AS l ON l.k = d.k;

DROP TABLE evse_us;
ALTER TABLE evse_us_counted RENAME TO evse_us;
