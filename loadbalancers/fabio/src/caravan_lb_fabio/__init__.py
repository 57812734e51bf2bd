"""caravan_lb_fabio."""
