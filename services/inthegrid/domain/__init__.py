"""Pure domain model shared by every service, the operator and the backtest.

Nothing in this package does I/O: zones, the interconnector graph, prices, rules and the
economics of moving power between zones.
"""
