-- Category runs: adjacent segments of one category with no unknown time between them are one
-- run. A run ends where the category changes, UNKNOWN included (spec section 4). Sessions and
-- outages only need where runs begin; the extent of a run is built for down runs only (outages).
CREATE OR REPLACE TABLE run_starts AS
SELECT
    k,
    category,
    f,
    t,
    COALESCE(LAG(category) OVER w <> category OR LAG(t) OVER w <> f, TRUE) AS starts_run
FROM segments
WINDOW w AS (PARTITION BY k ORDER BY f);

CREATE OR REPLACE TABLE islands AS
WITH down AS (
    SELECT
        *,
        SUM(CASE WHEN starts_run THEN 1 ELSE 0 END) OVER (
            PARTITION BY k ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM run_starts
    WHERE category IN ('OUT_OF_ORDER', 'UNAVAILABLE')
)
SELECT k, island, MIN(category) AS category, MIN(f) AS f, MAX(t) AS t
FROM down
GROUP BY k, island;
