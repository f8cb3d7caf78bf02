"""``refund-mock proxy``: a vendor API's paths forwarded to a target (a vendor sandbox, a team's
own service), byte for byte, so that an app can be pointed at the real thing through the kit."""
