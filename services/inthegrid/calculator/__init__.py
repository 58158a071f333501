"""The calculator service: prices in, opportunity events out, for one rule."""
