-- Question: which principals were denied in more than one org or site (a data-access scope problem, not one missing role)?
-- Example: grantgap query queries/principals_denied_in_several_orgs.sql sample_logs/inventory
SELECT
  principal,
  COUNT(DISTINCT org) AS orgs,
  SUM(count) AS denials,
  COUNT(DISTINCT cause) AS causes
FROM denials
WHERE org IS NOT NULL AND NOT suppressed
GROUP BY principal
HAVING COUNT(DISTINCT org) > 1
ORDER BY orgs DESC, denials DESC, principal
