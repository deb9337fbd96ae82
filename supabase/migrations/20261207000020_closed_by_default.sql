-- Closed by default: a table, sequence or function a later migration makes is closed to
-- the API roles even if that migration forgets its `revoke`. Every function so far
-- revokes EXECUTE from public, anon and authenticated itself; from now on that is also
-- the default for whatever the role running the migrations creates.
--
-- Two layers of default grants exist. Supabase grants the API roles everything in schema
-- public (`alter default privileges in schema public grant ... to anon, authenticated`):
-- the schema-scoped revokes below take those back. PostgreSQL itself grants EXECUTE on
-- every new function to PUBLIC, a global default that a schema-scoped revoke cannot
-- remove (schema defaults only add to the global ones): the global revoke takes it back.

alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
-- The service role (the functions' PostgREST key) keeps its grants.
alter default privileges in schema public grant execute on functions to service_role;
