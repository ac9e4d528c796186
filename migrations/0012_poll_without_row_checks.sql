-- Poll writes without per-row foreign key checks.
--
-- The agent's poll writes a transition for every status change and a row for every endpoint
-- move, in its poll transaction. Their foreign keys cost one referential check per row (a
-- query and a row lock on routers, tenants and hubs: five per transition and endpoint move,
-- over half the time of a poll where 1% of a full hub changes status). Like the traffic tables
-- (0007), these go without them:
--
-- * Inserting: the agent writes history only for routers whose configuration row it has just
--   updated and locks in the same statement (src/store/history.rs), so a router deleted
--   meanwhile is either gone before (no row joins) or deleted after the poll commits.
-- * Deleting: a router's history goes with it, by the statement trigger below (one statement
--   per table for a whole batch, as deleting a tenant's routers). Deleting a tenant deletes
--   its routers; a hub can only be deleted without routers (routers.hub_id RESTRICT, and
--   routers never move hub), so its routers' history is gone by then.

ALTER TABLE router_transitions
    DROP CONSTRAINT router_transitions_router_id_fkey,
    DROP CONSTRAINT router_transitions_tenant_id_fkey,
    DROP CONSTRAINT router_transitions_hub_id_fkey;
ALTER TABLE router_endpoints
    DROP CONSTRAINT router_endpoints_router_id_fkey,
    DROP CONSTRAINT router_endpoints_tenant_id_fkey;

-- The trigger of 0007 forgets all of a deleted router's history now, not only its traffic.
-- Both tables have an index leading with router_id (router_transitions_router_at_idx,
-- router_endpoints_router_at_idx).
DROP TRIGGER routers_forget_traffic ON routers;
DROP FUNCTION router_traffic_forget();
CREATE FUNCTION router_history_forget() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM router_traffic_5m WHERE router_id IN (SELECT id FROM gone);
    DELETE FROM router_traffic_1h WHERE router_id IN (SELECT id FROM gone);
    DELETE FROM router_transitions WHERE router_id IN (SELECT id FROM gone);
    DELETE FROM router_endpoints WHERE router_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER routers_forget_history AFTER DELETE ON routers
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION router_history_forget();

-- The same for the alert outbox (0008), which a poll writes in the same transaction: three
-- checks per alert (the event's hub, the delivery's endpoint and event). The enqueue
-- (src/store/webhooks.rs) locks the hub and the enabled endpoints once per statement instead,
-- and the deletes that the foreign keys carried out are statement triggers now.
ALTER TABLE alert_events DROP CONSTRAINT alert_events_hub_id_fkey;
ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey,
    DROP CONSTRAINT webhook_deliveries_event_id_fkey;
-- Deliveries are looked up by event when events are pruned (the foreign key's cascade had
-- no index for it).
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

CREATE FUNCTION alert_events_forget_hub() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE alert_events SET hub_id = NULL WHERE hub_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER hubs_forget_alerts AFTER DELETE ON hubs
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION alert_events_forget_hub();

CREATE FUNCTION webhook_deliveries_forget_endpoint() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM webhook_deliveries WHERE endpoint_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_endpoints_forget_deliveries AFTER DELETE ON webhook_endpoints
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION webhook_deliveries_forget_endpoint();

CREATE FUNCTION webhook_deliveries_forget_event() RETURNS trigger LANGUAGE plpgsql
    SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM webhook_deliveries WHERE event_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_events_forget_deliveries AFTER DELETE ON alert_events
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT
    EXECUTE FUNCTION webhook_deliveries_forget_event();

-- Every poll's status write fires the router_counts trigger of 0010 on its statement. Its
-- update branch read the transition tables four times (two aggregations, each over both
-- tables); this reads them once. Everything else is as in 0010.
CREATE OR REPLACE FUNCTION router_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO router_counts AS c (tenant_id, status, routers)
        SELECT tenant_id, status, count(*) FROM added GROUP BY tenant_id, status
        ON CONFLICT (tenant_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE router_counts c SET routers = c.routers - d.n
        FROM (SELECT tenant_id, status, count(*) AS n FROM removed GROUP BY tenant_id, status) d
        WHERE c.tenant_id = d.tenant_id AND c.status = d.status;
    ELSE
        -- Every updated row is in both transition tables: old statuses out, new ones in,
        -- summed per tenant and status once. Rows that exist take the sum; gains for rows
        -- that do not are inserted (an inserted row must pass the CHECK itself, so a loss
        -- never goes through the insert).
        WITH delta AS (
            SELECT tenant_id, status, sum(delta) AS delta FROM (
                SELECT tenant_id, status, 1 AS delta FROM added
                UNION ALL
                SELECT tenant_id, status, -1 FROM removed
            ) m GROUP BY tenant_id, status HAVING sum(delta) <> 0
        ), kept AS (
            UPDATE router_counts c SET routers = c.routers + d.delta
            FROM delta d
            WHERE c.tenant_id = d.tenant_id AND c.status = d.status
            RETURNING c.tenant_id, c.status
        )
        INSERT INTO router_counts AS c (tenant_id, status, routers)
        SELECT d.tenant_id, d.status, d.delta FROM delta d
        WHERE d.delta > 0
          AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.tenant_id = d.tenant_id AND k.status = d.status)
        ON CONFLICT (tenant_id, status) DO UPDATE SET routers = c.routers + EXCLUDED.routers;
    END IF;
    RETURN NULL;
END
$$;
