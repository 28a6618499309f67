"""The HTTP server every mode runs: uvicorn with bounds on slow, large and surplus clients."""
