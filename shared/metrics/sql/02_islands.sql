-- The extent of every down run (OUT_OF_ORDER or UNAVAILABLE), for outages: its segments
-- share the count of run starts up to them. Sessions need only where runs begin.
CREATE OR REPLACE TABLE islands AS
WITH down AS (
    SELECT
        *,
        SUM(CASE WHEN starts_run THEN 1 ELSE 0 END) OVER (
            PARTITION BY k ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM segments
    WHERE category IN ('OUT_OF_ORDER', 'UNAVAILABLE')
)
SELECT k, island, MIN(category) AS category, MIN(f) AS f, MAX(t) AS t
FROM down
GROUP BY k, island;
