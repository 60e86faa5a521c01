-- Every EVSE gets a small integer key k (listed or only observed), so the heavy steps below
-- partition and join on integers. Inputs: connectors (one row per static connector), runs.
CREATE OR REPLACE TABLE evse_keys AS
SELECT cpo_id, evse_uid, CAST(ROW_NUMBER() OVER (ORDER BY cpo_id, evse_uid) AS INTEGER) AS k
FROM (
    SELECT cpo_id, evse_uid FROM connectors
    UNION
    SELECT cpo_id, evse_uid FROM runs
) AS everyone;

-- One row per EVSE of the static CSVs with its attributes and in-service window: local
-- midnight of commissioned_on / decommissioned_on, in UTC (input: midnights). An EVSE is
-- decommissioned only when all its connectors are. site_k: a small integer key of its site.
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
        string_agg(DISTINCT program, ',' ORDER BY program) AS program,
        CASE WHEN COUNT(DISTINCT power_type) = 1 THEN MIN(power_type) ELSE 'mixed' END AS power_type,
        MAX(max_power_kw) AS max_power_kw,
        string_agg(DISTINCT connector_standard, ',' ORDER BY connector_standard) AS connector_standards,
        MIN(commissioned_on) AS commissioned_on,
        CASE WHEN COUNT(decommissioned_on) = COUNT(*) THEN MAX(decommissioned_on) END AS decommissioned_on
    FROM connectors
    GROUP BY cpo_id, evse_uid
)
SELECT
    ek.k,
    CAST(DENSE_RANK() OVER (ORDER BY e.cpo_id, e.site_id) AS INTEGER) AS site_k,
    e.* EXCLUDE (commissioned_on, decommissioned_on),
    mc.utc AS service_from,
    md.utc AS service_until
FROM per_evse AS e
JOIN evse_keys AS ek ON ek.cpo_id = e.cpo_id AND ek.evse_uid = e.evse_uid
LEFT JOIN midnights AS mc ON mc.day = e.commissioned_on
LEFT JOIN midnights AS md ON md.day = e.decommissioned_on;
