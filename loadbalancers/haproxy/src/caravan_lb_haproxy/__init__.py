"""caravan_lb_haproxy."""
