-- The extent of every down run (OUT_OF_ORDER or UNAVAILABLE), for the outage list's ended_at.
CREATE OR REPLACE TABLE islands AS
SELECT k, run_f AS f, MIN(category) AS category, MAX(t) AS t
FROM segments
WHERE category IN ({{categories:down}})
GROUP BY k, run_f;
