"""The live state kept in memory and the bus consumers that keep it (and the stream channels) current."""
