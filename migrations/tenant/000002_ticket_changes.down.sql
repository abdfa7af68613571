DROP TRIGGER tickets_notify_change ON tickets;
DROP FUNCTION notify_ticket_change();
