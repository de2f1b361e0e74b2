-- Question: which tokens were still sent after they expired (a client that does not refresh), and were they refused?
-- Example: grantgap query queries/tokens_used_after_expiry.sql sample_logs/project
SELECT
  e.principal,
  e.token_id,
  t.expires_at,
  COUNT(*) AS requests,
  SUM(CASE WHEN e.status = 403 THEN 1 ELSE 0 END) AS denied,
  MIN(e.ts) AS first_use,
  MAX(e.ts) AS last_use
FROM events e
JOIN tokens t ON e.token_id = t.token_id
WHERE e.ts > t.expires_at
GROUP BY e.principal, e.token_id, t.expires_at
ORDER BY requests DESC, e.token_id
