-- Question: which failure signatures first appeared on the last day of the logs ("new today" in a nightly run)?
-- (The bundled scenarios have none: each of their failures started before their last day.)
-- Example: grantgap query queries/new_signatures_today.sql sample_logs/maintenance
SELECT s.id, s.cause, s.method, s.endpoint, s.missing, s.count, s.first_seen
FROM signatures s
CROSS JOIN (SELECT CAST(MAX(last_seen) AS DATE) AS today FROM signatures) d
WHERE s.date = d.today
ORDER BY s.count DESC, s.id
