-- Question: the change list: for each denied account, what is missing and which existing roles to grant (most denied first)?
-- Example: grantgap query queries/fix_plan.sql sample_logs/project
SELECT principal, denied, missing, grant_roles, no_role_grants, unused_grants
FROM principals
ORDER BY denied DESC, principal
