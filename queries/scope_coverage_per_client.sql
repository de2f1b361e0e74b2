-- Question: per OAuth client, which scopes does its latest token carry, and which scopes do its denials show missing from its tokens?
-- Example: grantgap query queries/scope_coverage_per_client.sql sample_logs/project
WITH issued AS (
  SELECT principal, COUNT(*) AS tokens, MAX(issued_at) AS last_issued
  FROM tokens
  GROUP BY principal
),
short AS (
  SELECT principal, cause, missing, count
  FROM denials
  WHERE cause IN ('scope_not_requested', 'stale_token') AND NOT suppressed
)
SELECT
  i.principal AS client,
  i.tokens,
  t.scopes AS latest_scopes,
  s.cause,
  s.missing AS missing_scope,
  SUM(s.count) AS denials
FROM issued i
JOIN tokens t ON t.principal = i.principal AND t.issued_at = i.last_issued
LEFT JOIN short s ON s.principal = i.principal
GROUP BY i.principal, i.tokens, t.scopes, s.cause, s.missing
ORDER BY client, denials DESC
