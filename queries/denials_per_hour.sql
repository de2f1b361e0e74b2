-- Question: when do the 403s happen: denials and denied principals per hour (UTC)?
-- Example: grantgap query queries/denials_per_hour.sql sample_logs/project
SELECT
  STRFTIME(ts, '%Y-%m-%d %H:00') AS hour,
  COUNT(*) AS denials,
  COUNT(DISTINCT principal) AS principals
FROM events
WHERE status = 403
GROUP BY STRFTIME(ts, '%Y-%m-%d %H:00')
ORDER BY hour
