-- Spec section 3. Each status run holds its category from started_at until max_gap after its
-- last confirmation, and never past the next run's start. Inputs: runs_k, gaps. Times are UTC.
-- Category runs: adjacent segments of one category with no unknown time between them are one
-- run; a run ends where the category changes, UNKNOWN included (spec section 4). starts_run
-- marks where runs begin (not kept); run_f is where the segment's run began (it names the
-- run); prev_t is where the segment before ends (the time no observation covers lies
-- between). The window functions of one level share one sort: two levels, two sorts.
CREATE OR REPLACE TABLE segments AS
WITH held AS (
    SELECT
        r.k,
        r.category,
        r.started_at AS f,
        LEAST(r.last_confirmed_at + to_microseconds(g.max_gap_us), LEAD(r.started_at) OVER w) AS t,
        LAG(r.category) OVER w AS prev_category,
        -- (LEAST ignores NULLs: the first segment has no segment before it)
        CASE
            WHEN LAG(r.last_confirmed_at) OVER w IS NOT NULL
            THEN LEAST(LAG(r.last_confirmed_at) OVER w + to_microseconds(g.max_gap_us), r.started_at)
        END AS prev_t
    FROM runs_k AS r
    JOIN evse_keys AS ek ON ek.k = r.k
    JOIN gaps AS g ON g.cpo_id = ek.cpo_id
    WINDOW w AS (PARTITION BY r.k ORDER BY r.started_at)
),
marked AS (
    SELECT
        k,
        category,
        f,
        t,
        COALESCE(prev_category <> category OR prev_t <> f, TRUE) AS starts_run,
        prev_t
    FROM held
)
SELECT
    * EXCLUDE (starts_run),
    MAX(CASE WHEN starts_run THEN f END) OVER (
        PARTITION BY k ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS run_f
FROM marked;

-- Each EVSE's first observation and last confirmation before the period's end (the unmatched
-- list); then the runs go: no step after this one reads them.
CREATE OR REPLACE TABLE observed_span AS
SELECT
    r.k,
    MIN(r.started_at) AS first_observed_at,
    MAX(LEAST(r.last_confirmed_at, p.pe)) AS last_confirmed_at
FROM runs_k AS r
CROSS JOIN period AS p
WHERE r.started_at < p.pe
GROUP BY r.k;

DROP TABLE runs_k;
