-- Every EVSE gets a small integer key k (listed or only observed), so the heavy steps below
-- partition and join on integers; k follows (cpo_id, evse_uid) order, so tables in that order
-- are sorted by k (and site_k below follows (cpo_id, site_id)). Inputs: connectors (one row per
-- static connector), runs.
CREATE OR REPLACE TABLE evse_keys AS
SELECT cpo_id, evse_uid, CAST(ROW_NUMBER() OVER (ORDER BY cpo_id, evse_uid) AS INTEGER) AS k
FROM (
    SELECT cpo_id, evse_uid FROM connectors
    UNION
    SELECT cpo_id, evse_uid FROM runs
) AS everyone;

-- The runs by key. As read, they carry two text columns a row, most of the engine's memory,
-- and no step below reads those: they go here, so that less of the later tables spills.
CREATE OR REPLACE TABLE runs_k AS
SELECT ek.k, r.category, r.started_at, r.last_confirmed_at
FROM runs AS r
JOIN evse_keys AS ek ON ek.cpo_id = r.cpo_id AND ek.evse_uid = r.evse_uid;

DROP TABLE runs;

-- One row per EVSE of the static CSVs with its attributes and in-service window: local
-- midnight of commissioned_on / decommissioned_on, in UTC (input: midnights). An EVSE is
-- decommissioned only when all its connectors are. site_k: a small integer key of its site.
-- hk: its site's opening-hours group (site_hours, open_windows), NULL when always open.
-- program: the CSV's, else the site's assigned programs (input: programs).
CREATE OR REPLACE TABLE evse_static AS
WITH per_evse AS (
    SELECT
        cpo_id,
        evse_uid,
        MIN(charger_id) AS charger_id,
        MIN(site_id) AS site_id,
        MIN(state) AS state,
        MIN(site_name) AS site_name,
        MIN(address) AS address,
        MIN(suburb) AS suburb,
        MIN(postcode) AS postcode,
        MIN(latitude) AS latitude,
        MIN(longitude) AS longitude,
        MIN(lga_code) AS lga_code,
        MIN(lga_name) AS lga_name,
        string_agg(DISTINCT program, ',' ORDER BY program) AS program,
        CASE WHEN COUNT(DISTINCT power_type) = 1 THEN MIN(power_type) ELSE 'mixed' END AS power_type,
        MAX(max_power_kw) AS max_power_kw,
        string_agg(DISTINCT connector_standard, ',' ORDER BY connector_standard) AS connector_standards,
        MIN(commissioned_on) AS commissioned_on,
        CASE WHEN COUNT(decommissioned_on) = COUNT(*) THEN MAX(decommissioned_on) END AS decommissioned_on
    FROM connectors
    GROUP BY cpo_id, evse_uid
),
assigned AS (
    SELECT cpo_id, site_id, string_agg(DISTINCT program, ',' ORDER BY program) AS program
    FROM programs
    WHERE program IS NOT NULL AND program <> ''
    GROUP BY cpo_id, site_id
)
SELECT
    ek.k,
    CAST(DENSE_RANK() OVER (ORDER BY e.cpo_id, e.site_id) AS INTEGER) AS site_k,
    e.* EXCLUDE (commissioned_on, decommissioned_on, program),
    COALESCE(e.program, a.program) AS program,
    sh.hk,
    sh.opening_hours,
    sh.time_zone,
    mc.utc AS service_from,
    md.utc AS service_until
FROM per_evse AS e
JOIN evse_keys AS ek ON ek.cpo_id = e.cpo_id AND ek.evse_uid = e.evse_uid
LEFT JOIN assigned AS a ON a.cpo_id = e.cpo_id AND a.site_id = e.site_id
LEFT JOIN site_hours AS sh ON sh.cpo_id = e.cpo_id AND sh.site_id = e.site_id
LEFT JOIN midnights AS mc ON mc.day = e.commissioned_on
LEFT JOIN midnights AS md ON md.day = e.decommissioned_on;

-- Spec 4.3: each approved exclusion on every EVSE it covers (its own EVSE, or all of its
-- charger's or site's), clipped to the period; then their union per EVSE (overlaps merged).
CREATE OR REPLACE TABLE exclusion_evse AS
WITH covered AS (
    SELECT x.exclusion_id, x.cause, ek.k, x.from_at, x.to_at
    FROM exclusions AS x
    JOIN evse_keys AS ek ON x.scope = 'evse' AND ek.cpo_id = x.cpo_id AND ek.evse_uid = x.scope_id
    UNION ALL
    SELECT x.exclusion_id, x.cause, s.k, x.from_at, x.to_at
    FROM exclusions AS x
    JOIN evse_static AS s ON x.scope = 'charger' AND s.cpo_id = x.cpo_id AND s.charger_id = x.scope_id
    UNION ALL
    SELECT x.exclusion_id, x.cause, s.k, x.from_at, x.to_at
    FROM exclusions AS x
    JOIN evse_static AS s ON x.scope = 'site' AND s.cpo_id = x.cpo_id AND s.site_id = x.scope_id
)
SELECT c.exclusion_id, c.cause, c.k, GREATEST(c.from_at, p.ps) AS f, LEAST(c.to_at, p.pe) AS t
FROM covered AS c
CROSS JOIN period AS p
WHERE c.from_at < p.pe AND c.to_at > p.ps;

CREATE OR REPLACE TABLE excluded_union AS
WITH ordered AS (
    SELECT
        k,
        f,
        t,
        MAX(t) OVER (PARTITION BY k ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM exclusion_evse
),
grouped AS (
    SELECT
        k,
        f,
        t,
        SUM(CASE WHEN reach IS NULL OR f > reach THEN 1 ELSE 0 END) OVER (
            PARTITION BY k ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS island
    FROM ordered
)
SELECT k, MIN(f) AS f, MAX(t) AS t FROM grouped GROUP BY k, island;
