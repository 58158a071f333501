"""Price sources for the feed: the simulator, ENTSO-E and replay of a price table.

Every source offers the same verb, ``batches``: an async iterator of lists of validated prices,
ending when the source is exhausted or ``stop`` is set.
"""
