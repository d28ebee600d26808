"""Production plans: quantities per item, period and line; release into work orders; MRP-lite."""
