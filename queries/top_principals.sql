-- Question: which principals were denied most, for how many causes, and since when?
-- Example: grantgap query queries/top_principals.sql sample_logs/maintenance
SELECT
  principal,
  SUM(count) AS denials,
  COUNT(DISTINCT cause) AS causes,
  MIN(first_seen) AS first_seen,
  MAX(last_seen) AS last_seen
FROM denials
WHERE NOT suppressed
GROUP BY principal
ORDER BY denials DESC, principal
LIMIT 20
