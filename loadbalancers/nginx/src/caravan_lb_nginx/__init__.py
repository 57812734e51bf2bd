"""caravan_lb_nginx."""
