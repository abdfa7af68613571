-- Every change to a ticket is announced on the channel ticket_changes with
-- the operation and the ticket's id, so WatchTickets can stream changes as
-- they commit. Notifications are sent at commit and only then.
CREATE FUNCTION notify_ticket_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ticket_changes', json_build_object(
        'op', lower(TG_OP),
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END
    )::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER tickets_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION notify_ticket_change();
