-- Spec section 3. Each status run holds its category from started_at until max_gap after its
-- last confirmation, and never past the next run's start. Inputs: runs, gaps. Times are UTC.
-- Category runs: adjacent segments of one category with no unknown time between them are one
-- run; a run ends where the category changes, UNKNOWN included (spec section 4). starts_run
-- marks where runs begin; run_f is where the segment's run began (it names the run); prev_t is
-- where the segment before ends (the time no observation covers lies between).
CREATE OR REPLACE TABLE segments AS
WITH held AS (
    SELECT
        ek.k,
        r.category,
        r.started_at AS f,
        LEAST(
            r.last_confirmed_at + to_microseconds(g.max_gap_us),
            LEAD(r.started_at) OVER (PARTITION BY ek.k ORDER BY r.started_at)
        ) AS t
    FROM runs AS r
    JOIN evse_keys AS ek ON ek.cpo_id = r.cpo_id AND ek.evse_uid = r.evse_uid
    JOIN gaps AS g ON g.cpo_id = r.cpo_id
),
marked AS (
    SELECT
        k,
        category,
        f,
        t,
        COALESCE(LAG(category) OVER w <> category OR LAG(t) OVER w <> f, TRUE) AS starts_run,
        LAG(t) OVER w AS prev_t
    FROM held
    WINDOW w AS (PARTITION BY k ORDER BY f)
)
SELECT
    *,
    MAX(CASE WHEN starts_run THEN f END) OVER (
        PARTITION BY k ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) AS run_f
FROM marked;
