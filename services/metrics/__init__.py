"""The metrics service: usage rollups from the platform's events, and the API that reports them."""
