-- Question: least privilege: which permissions did each account hold during the period but never use on a successful request?
-- ("proven" is false where the account also called endpoints no policy rule covers: those calls may have used them.)
-- Example: grantgap query queries/unused_grants.sql sample_logs/maintenance
SELECT principal, permission, proven
FROM grants
WHERE NOT used
ORDER BY principal, permission
