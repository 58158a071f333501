"""InTheGrid: cross-border electricity arbitrage detection for European bidding zones."""

__version__ = "0.1.0"
