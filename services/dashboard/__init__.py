"""The dashboard service: the platform's overview over gRPC (GetOverview) and a web page on HTTP."""
