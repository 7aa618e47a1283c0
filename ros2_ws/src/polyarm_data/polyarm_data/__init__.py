"""Data: Minari-layout datasets, MCAP recording (the recorder node) and scripted collection in the sim."""
