"""HTML page routers."""
