"""`inthegrid up`: the whole platform on one machine, for a laptop demo or a developer."""
