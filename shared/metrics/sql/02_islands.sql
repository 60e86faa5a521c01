-- Category runs ("islands"): adjacent segments of one category with no unknown time between
-- them are one run. A run ends where the category changes, UNKNOWN included (spec section 4).
CREATE OR REPLACE TEMP TABLE islands AS
WITH marked AS (
    SELECT
        *,
        CASE
            WHEN LAG(category) OVER w = category AND LAG(t) OVER w = f THEN 0
            ELSE 1
        END AS starts_island
    FROM segments
    WINDOW w AS (PARTITION BY cpo_id, evse_uid ORDER BY f)
),
numbered AS (
    SELECT
        *,
        SUM(starts_island) OVER (
            PARTITION BY cpo_id, evse_uid ORDER BY f ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM marked
)
SELECT cpo_id, evse_uid, island, MIN(category) AS category, MIN(f) AS f, MAX(t) AS t
FROM numbered
GROUP BY cpo_id, evse_uid, island;
