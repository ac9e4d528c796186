-- The API's row-level security, made cheap at scale.
--
-- 0004's policies called tikwire_api_system() and tikwire_api_tenant() bare. Both are inlined,
-- so PostgreSQL evaluated current_setting() twice for every row it looked at: a listing of a
-- 10,000-router tenant spent most of its time there. As scalar subselects, the same
-- functions become InitPlans evaluated once per statement, and each row compares against a
-- parameter. Who sees what is unchanged: the caller's tenant, everything for
-- tikwire.scope = 'system', nothing with neither setting.
DO $$
DECLARE
    scoped_table text;
    tenant_column text;
BEGIN
    FOR scoped_table, tenant_column IN VALUES
        ('tenants', 'id'), ('vpn_subnet_allocations', 'tenant_id'),
        ('released_host_indexes', 'tenant_id'), ('routers', 'tenant_id'),
        ('vpn_configurations', 'tenant_id'), ('audit_log', 'tenant_id')
    LOOP
        EXECUTE format(
            'ALTER POLICY tenant_scope ON %I
                 USING ((SELECT tikwire_api_system()) OR %I = (SELECT tikwire_api_tenant()))',
            scoped_table, tenant_column);
    END LOOP;
END
$$;

-- GET /api/vpn pages through one tenant's configurations in router order, optionally of one
-- status, and counts them by status: index-only scans on these (the page's rows are then
-- read by primary key). The (tenant_id, status, router_id) index replaces (tenant_id,
-- status), which it covers.
CREATE INDEX vpn_configurations_tenant_router_idx ON vpn_configurations (tenant_id, router_id);
CREATE INDEX vpn_configurations_tenant_status_router_idx
    ON vpn_configurations (tenant_id, status, router_id);
DROP INDEX vpn_configurations_status_idx;
