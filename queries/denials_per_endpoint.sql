-- Question: which endpoint templates (/workorders/{id}, not each id) collect the denials, and for how many principals?
-- Example: grantgap query queries/denials_per_endpoint.sql sample_logs/maintenance
SELECT
  method,
  endpoint,
  SUM(count) AS denials,
  COUNT(DISTINCT principal) AS principals,
  COUNT(DISTINCT cause) AS causes
FROM denials
WHERE NOT suppressed
GROUP BY method, endpoint
ORDER BY denials DESC, method, endpoint
