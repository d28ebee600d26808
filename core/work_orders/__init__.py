"""Work orders: operations from the routing, a state machine, dispatch, quantity reports and
completion (production receipt and backflush in one transaction)."""
